"""Reading .tflite models on the host: facts, per-op work, and the host TFLM interpreter."""

from toolkit.model.reader import OpInfo, TensorInfo, TFLiteModel, load_model, parse_model
from toolkit.model.work import model_work, op_work, total_macs

__all__ = ["OpInfo", "TensorInfo", "TFLiteModel", "load_model", "parse_model", "model_work", "op_work", "total_macs"]
