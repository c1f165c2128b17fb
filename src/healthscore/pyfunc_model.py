"""The code MLflow loads for a logged healthscore model ("models from code").

Logging the model as code rather than as a pickled object means the logged model holds no
serialized Python object: MLflow runs this file, which names the wrapper class, and the
wrapper loads the plain-file bundle logged beside it. Only MLflow imports this module.
"""

import mlflow

from healthscore.tracking import HealthScorePyfunc

mlflow.models.set_model(HealthScorePyfunc())
