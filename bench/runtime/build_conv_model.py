"""A small convolutional image classifier for the heavy-model benchmark (bench/runtime/heavy.ts).

Random but seeded weights: the benchmark measures serving cost, not accuracy. One image is
3x48x192 float32 (110 KB as binary, about 540 KB as V2 JSON), about 50 MFLOP per image, so a row
costs far more than a request. Writes conv-fp32.onnx, conv-int8.onnx (static QDQ quantization,
calibrated on the samples) and conv-samples.f32 (64 seeded images) into OUT_DIR.

    python bench/runtime/build_conv_model.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

SHAPE = (3, 48, 192)
CLASSES = 10


def conv_model(rng: np.random.Generator) -> onnx.ModelProto:
    nodes, inits = [], []

    def weight(name, shape):
        fan_in = int(np.prod(shape[1:]))
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name))

    previous, channels = "image", SHAPE[0]
    for i, width in enumerate([16, 32, 64]):
        weight(f"w{i}", (width, channels, 3, 3))
        inits.append(numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}"))
        nodes.append(helper.make_node("Conv", [previous, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        if i < 2:
            nodes.append(helper.make_node("MaxPool", [f"r{i}"], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            previous = f"p{i}"
        else:
            previous = f"r{i}"
        channels = width
    nodes.append(helper.make_node("GlobalAveragePool", [previous], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    weight("fc", (channels, CLASSES))
    inits.append(numpy_helper.from_array(np.zeros(CLASSES, np.float32), "fcb"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes, "conv-classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", *SHAPE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", CLASSES])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modelship-bench")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


class Samples(CalibrationDataReader):
    def __init__(self, images: np.ndarray):
        self.rows = iter(images[i : i + 1] for i in range(len(images)))

    def get_next(self):
        row = next(self.rows, None)
        return None if row is None else {"image": row}


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261125)
    images = rng.random((64, *SHAPE), dtype=np.float32)
    images.tofile(out / "conv-samples.f32")
    onnx.save(conv_model(rng), out / "conv-fp32.onnx")
    quantize_static(
        str(out / "conv-fp32.onnx"), str(out / "conv-int8.onnx"), Samples(images[:16]),
        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
    )


if __name__ == "__main__":
    main()
