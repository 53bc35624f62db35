"""The sweep's answer as an MLflow model: readings in the unknown thermometer's units (`t_u`)
in, Celsius (`t_c`) out, with the best trial's raw-unit parameters (any normalization is
already folded into them) from the model's config.

MLflow loads this file as "model code" (it is copied into the model), so the model needs only
mlflow and pandas to load, not this package. It is never imported by the sweep itself.
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ThermometerModel(PythonModel):
    def load_context(self, context) -> None:
        self.w = float(context.model_config["w_raw"])
        self.b = float(context.model_config["b_raw"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        t_u = pd.to_numeric(model_input["t_u"]).astype("float64")
        return pd.DataFrame({"t_c": self.w * t_u + self.b})


mlflow.models.set_model(ThermometerModel())
