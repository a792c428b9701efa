"""How raw inputs become a model's input tensor: layout, quantisation, preprocessing, image files.

The one place that knows NCHW from NHWC and a tensor's scale and zero point; convert/, optimize/,
harness/ and the HIL suite import it. Light core: numpy, and Pillow for image files.
"""

from toolkit.tensors.layout import channels_first, channels_last
from toolkit.tensors.preprocess import Preprocess
from toolkit.tensors.quant import dequantize, quantize

__all__ = ["Preprocess", "channels_first", "channels_last", "dequantize", "quantize"]
