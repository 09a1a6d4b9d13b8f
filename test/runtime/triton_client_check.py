"""Drives the runtime with the real Triton HTTP client (tritonclient[http] from PyPI).

  python triton_client_check.py HOST:PORT FRAUD_MODEL FRAUD_ONNX_PATH IDENTITY_MODEL IDENTITY_HOST:PORT

Prints one JSON object of check name -> result; the mocha test asserts on it.
"""

import json
import sys

import numpy as np
import onnxruntime as ort
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main() -> None:
    url, fraud, fraud_path, identity, identity_url = sys.argv[1:6]
    client = httpclient.InferenceServerClient(url=url, concurrency=4)
    report = {
        "server_live": client.is_server_live(),
        "server_ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(fraud),
        "model_version_ready": client.is_model_ready(fraud, model_version="1"),
        "server_metadata": client.get_server_metadata(),
        "model_metadata": client.get_model_metadata(fraud),
    }

    x = np.random.default_rng(3).normal(scale=2.0, size=(4, 30)).astype(np.float32)
    expected = ort.InferenceSession(fraud_path, providers=["CPUExecutionProvider"]).run(["probabilities"], {"features": x})[0]

    # JSON tensors both ways.
    json_input = httpclient.InferInput("features", list(x.shape), "FP32")
    json_input.set_data_from_numpy(x, binary_data=False)
    result = client.infer(fraud, [json_input], request_id="py-json",
                          outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=False)])
    report["json_id"] = result.get_response().get("id")
    report["json_max_abs_diff"] = float(np.max(np.abs(result.as_numpy("probabilities") - expected)))

    # Binary tensors both ways (no outputs listed: the client asks for binary_data_output).
    binary_input = httpclient.InferInput("features", list(x.shape), "FP32")
    binary_input.set_data_from_numpy(x, binary_data=True)
    result = client.infer(fraud, [binary_input], request_id="py-binary", model_version="1")
    report["binary_id"] = result.get_response().get("id")
    report["binary_outputs"] = sorted(o["name"] for o in result.get_response()["outputs"])
    report["binary_max_abs_diff"] = float(np.max(np.abs(result.as_numpy("probabilities") - expected)))
    report["binary_labels"] = result.as_numpy("label").tolist()

    # Async (concurrent) binary requests, which the runtime may batch together.
    handles = []
    for i in range(16):
        xi = np.random.default_rng(100 + i).normal(size=(1 + i % 3, 30)).astype(np.float32)
        inp = httpclient.InferInput("features", list(xi.shape), "FP32")
        inp.set_data_from_numpy(xi, binary_data=True)
        handles.append((xi, client.async_infer(fraud, [inp])))
    session = ort.InferenceSession(fraud_path, providers=["CPUExecutionProvider"])
    report["async_max_abs_diff"] = max(
        float(np.max(np.abs(h.get_result().as_numpy("probabilities") - session.run(["probabilities"], {"features": xi})[0])))
        for xi, h in handles
    )

    # Every datatype through the identity model, binary and JSON.
    arrays = {
        "BOOL": np.array([[True, False], [False, True]]),
        "UINT8": np.array([[0, 255], [1, 2]], dtype=np.uint8),
        "UINT16": np.array([[0, 65535], [1, 2]], dtype=np.uint16),
        "UINT32": np.array([[0, 4294967295], [1, 2]], dtype=np.uint32),
        "UINT64": np.array([[0, 2**40], [1, 2]], dtype=np.uint64),
        "INT8": np.array([[-128, 127], [1, 2]], dtype=np.int8),
        "INT16": np.array([[-32768, 32767], [1, 2]], dtype=np.int16),
        "INT32": np.array([[-(2**31), 2**31 - 1], [1, 2]], dtype=np.int32),
        "INT64": np.array([[-(2**40), 2**40], [1, 2]], dtype=np.int64),
        "FP16": np.array([[0.5, -2.0], [65504.0, 0.25]], dtype=np.float16),
        "FP32": np.array([[0.1, -2.5], [3.0, 4.0]], dtype=np.float32),
        "FP64": np.array([[0.1, -2.5], [1e300, 4.0]], dtype=np.float64),
        "BYTES": np.array([[b"a", b""], ["ünï".encode(), b"xyz"]], dtype=np.object_),
    }
    for binary in (True, False):
        inputs = []
        for datatype, array in arrays.items():
            inp = httpclient.InferInput(f"in_{datatype}", list(array.shape), datatype)
            inp.set_data_from_numpy(array, binary_data=binary)
            inputs.append(inp)
        outputs = [httpclient.InferRequestedOutput(f"out_{d}", binary_data=binary) for d in arrays]
        with httpclient.InferenceServerClient(url=identity_url) as identity_client:
            result = identity_client.infer(identity, inputs, outputs=outputs)
        mismatched = []
        for datatype, array in arrays.items():
            got = result.as_numpy(f"out_{datatype}")
            if datatype == "BYTES":
                got = np.array([v if isinstance(v, bytes) else str(v).encode() for v in got.flatten()], dtype=np.object_).reshape(got.shape)
            if got is None or got.shape != array.shape or not np.array_equal(got, array):
                mismatched.append(datatype)
        report[f"all_types_{'binary' if binary else 'json'}_mismatched"] = mismatched

    # Errors surface as InferenceServerException with the server's status and message.
    bad = httpclient.InferInput("features", [1, 29], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 29), dtype=np.float32), binary_data=True)
    try:
        client.infer(fraud, [bad])
        report["bad_shape_error"] = None
    except InferenceServerException as error:
        report["bad_shape_error"] = {"status": error.status(), "message": error.message()}
    try:
        client.get_model_metadata("no-such-model")
        report["unknown_model_error"] = None
    except InferenceServerException as error:
        report["unknown_model_error"] = {"status": error.status(), "message": error.message()}

    client.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
