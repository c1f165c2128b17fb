"""The default simulated world: its size, history and seed, declared once.

``healthscore demo``, ``healthscore generate``, :func:`healthscore.pipeline.generate_data`
and :func:`healthscore.synthetic.generate_world` all start from these values, so the
figures the documentation quotes for "the demo" describe the same world everywhere. The
module imports nothing, so the command line can show the defaults in its help without
loading the simulator.
"""

from __future__ import annotations

from typing import Final

ACCOUNTS: Final = 3000
"""Accounts simulated: about 30% are customers at ``START``, the rest sign up later."""

START: Final = "2023-01-01"
"""First day of the simulated history."""

END: Final = "2026-01-01"
"""Exclusive end of the simulated history: three years, 36 monthly snapshots."""

SEED: Final = 42
"""Seed of every random draw; the same seed gives identical tables."""
