"""Drives the runtime's gRPC service with the real Triton gRPC client (tritonclient[grpc] from PyPI)
and, for typed contents (which tritonclient never sends), with its generated stubs over grpcio.

  python triton_grpc_check.py trim ALL_TYPES_IDENTITY_ONNX OUT_ONNX
  python triton_grpc_check.py FRAUD_GRPC FRAUD_HTTP FRAUD_ONNX_PATH IDENTITY_GRPC TYPED_GRPC AUTH_GRPC TOKEN

FRAUD_* serve model "fraud" (one runtime, both APIs), IDENTITY_GRPC model "identity"
(all-types-identity.onnx), TYPED_GRPC model "identity" trimmed of FP16 by `trim`, AUTH_GRPC model
"fraud" behind bearer token TOKEN. Prints one JSON object of check name -> result.
"""

import json
import sys
import time

import grpc
import numpy as np
import onnx
import onnxruntime as ort
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

ARRAYS = {
    "BOOL": np.array([[True, False], [False, True]]),
    "UINT8": np.array([[0, 255], [1, 2]], dtype=np.uint8),
    "UINT16": np.array([[0, 65535], [1, 2]], dtype=np.uint16),
    "UINT32": np.array([[0, 4294967295], [1, 2]], dtype=np.uint32),
    "UINT64": np.array([[0, 2**64 - 1], [1, 2]], dtype=np.uint64),
    "INT8": np.array([[-128, 127], [1, 2]], dtype=np.int8),
    "INT16": np.array([[-32768, 32767], [1, 2]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 2**31 - 1], [1, 2]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 2**63 - 1], [1, 2]], dtype=np.int64),
    "FP16": np.array([[0.5, -2.0], [65504.0, 0.25]], dtype=np.float16),
    "FP32": np.array([[0.1, -2.5], [3.0, 4.0]], dtype=np.float32),
    "FP64": np.array([[0.1, -2.5], [1e300, 4.0]], dtype=np.float64),
    "BYTES": np.array([[b"a", b""], ["ünï".encode(), b"xyz"]], dtype=np.object_),
}

# The InferTensorContents field that carries each datatype (FP16 has none).
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def error_of(call) -> dict | None:
    try:
        call()
        return None
    except InferenceServerException as error:
        return {"status": error.status(), "message": error.message()}


def same(got, want) -> bool:
    return got is not None and got.shape == want.shape and np.array_equal(got, want)


def typed_request(model: str, datatypes) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name=model, id="typed")
    for datatype in datatypes:
        array = ARRAYS[datatype]
        tensor = request.inputs.add(name=f"in_{datatype}", datatype=datatype, shape=list(array.shape))
        if datatype in CONTENTS_FIELD:
            getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(array.flatten().tolist())
        request.outputs.add(name=f"out_{datatype}")
    return request


def main() -> None:
    fraud_grpc, fraud_http, fraud_path, identity_grpc, typed_grpc, auth_grpc, token = sys.argv[1:8]
    client = grpcclient.InferenceServerClient(url=fraud_grpc)
    report = {
        "server_live": client.is_server_live(),
        "server_ready": client.is_server_ready(),
        "model_ready": client.is_model_ready("fraud"),
        "model_version_ready": client.is_model_ready("fraud", model_version="1"),
        "server_metadata": client.get_server_metadata(as_json=True),
        "model_metadata": client.get_model_metadata("fraud", as_json=True),
    }

    # Raw contents both ways, compared with onnxruntime and with the REST API of the same runtime.
    x = np.random.default_rng(5).normal(scale=2.0, size=(6, 30)).astype(np.float32)
    session = ort.InferenceSession(fraud_path, providers=["CPUExecutionProvider"])
    expected_labels, expected = session.run(["label", "probabilities"], {"features": x})
    grpc_input = grpcclient.InferInput("features", list(x.shape), "FP32")
    grpc_input.set_data_from_numpy(x)
    result = client.infer("fraud", [grpc_input], request_id="py-grpc")
    report["raw_id"] = result.get_response().id
    report["raw_outputs"] = sorted(o.name for o in result.get_response().outputs)
    report["raw_max_abs_diff"] = float(np.max(np.abs(result.as_numpy("probabilities") - expected)))
    report["raw_labels_match"] = bool(np.array_equal(result.as_numpy("label"), expected_labels))
    with httpclient.InferenceServerClient(url=fraud_http) as rest:
        rest_input = httpclient.InferInput("features", list(x.shape), "FP32")
        rest_input.set_data_from_numpy(x, binary_data=True)
        rest_result = rest.infer("fraud", [rest_input])
        report["rest_grpc_probabilities_equal"] = bool(np.array_equal(rest_result.as_numpy("probabilities"), result.as_numpy("probabilities")))
        report["rest_grpc_labels_equal"] = bool(np.array_equal(rest_result.as_numpy("label"), result.as_numpy("label")))

    # Concurrent requests, which the runtime may batch with each other.
    pending = []
    for i in range(16):
        xi = np.random.default_rng(200 + i).normal(size=(1 + i % 3, 30)).astype(np.float32)
        inp = grpcclient.InferInput("features", list(xi.shape), "FP32")
        inp.set_data_from_numpy(xi)
        done = []
        client.async_infer("fraud", [inp], callback=lambda result, error, done=done: done.append((result, error)))
        pending.append((xi, done))
    diffs = []
    for xi, done in pending:
        for _ in range(3000):
            if done:
                break
            time.sleep(0.01)
        result, error = done[0]
        if error is not None:
            raise error
        diffs.append(float(np.max(np.abs(result.as_numpy("probabilities") - session.run(["probabilities"], {"features": xi})[0]))))
    report["async_max_abs_diff"] = max(diffs)

    # Every datatype through the identity model as raw contents (tritonclient's way).
    with grpcclient.InferenceServerClient(url=identity_grpc) as identity:
        inputs = []
        for datatype, array in ARRAYS.items():
            inp = grpcclient.InferInput(f"in_{datatype}", list(array.shape), datatype)
            inp.set_data_from_numpy(array)
            inputs.append(inp)
        result = identity.infer("identity", inputs, outputs=[grpcclient.InferRequestedOutput(f"out_{d}") for d in ARRAYS])
        mismatched = []
        for datatype, array in ARRAYS.items():
            got = result.as_numpy(f"out_{datatype}")
            if datatype == "BYTES" and got is not None:
                got = np.array([v if isinstance(v, bytes) else str(v).encode() for v in got.flatten()], dtype=np.object_).reshape(got.shape)
            if not same(got, array):
                mismatched.append(datatype)
        report["all_types_raw_mismatched"] = mismatched

    # Typed contents through the generated stub (tritonclient only sends raw contents).
    with grpc.insecure_channel(identity_grpc) as channel:
        try:
            service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(typed_request("identity", ARRAYS.keys()))
            report["typed_fp16_error"] = None
        except grpc.RpcError as error:
            report["typed_fp16_error"] = {"status": error.code().name, "message": error.details()}
    with grpc.insecure_channel(typed_grpc) as channel:
        typed = [d for d in ARRAYS if d != "FP16"]
        response = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(typed_request("identity", typed))
        report["typed_id"] = response.id
        report["typed_raw_output_count"] = len(response.raw_output_contents)
        mismatched = []
        for output in response.outputs:
            datatype = output.datatype
            values = list(getattr(output.contents, CONTENTS_FIELD[datatype]))
            got = np.array(values, dtype=ARRAYS[datatype].dtype).reshape(list(output.shape))
            if output.name != f"out_{datatype}" or not same(got, ARRAYS[datatype]):
                mismatched.append(datatype)
        report["typed_outputs"] = [output.datatype for output in response.outputs]
        report["all_types_typed_mismatched"] = mismatched

    # Errors arrive as gRPC statuses with the server's message.
    bad_shape = grpcclient.InferInput("features", [1, 29], "FP32")
    bad_shape.set_data_from_numpy(np.zeros((1, 29), dtype=np.float32))
    report["bad_shape_error"] = error_of(lambda: client.infer("fraud", [bad_shape]))
    wrong_type = grpcclient.InferInput("features", [1, 30], "FP64")
    wrong_type.set_data_from_numpy(np.zeros((1, 30), dtype=np.float64))
    report["wrong_datatype_error"] = error_of(lambda: client.infer("fraud", [wrong_type]))
    report["unknown_model_error"] = error_of(lambda: client.get_model_metadata("no-such-model"))
    report["unknown_model_infer_error"] = error_of(lambda: client.infer("no-such-model", [grpc_input]))
    report["unknown_version_error"] = error_of(lambda: client.is_model_ready("fraud", model_version="9"))
    client.close()

    # Bearer token in the authorization metadata.
    with grpcclient.InferenceServerClient(url=auth_grpc) as guarded:
        report["auth_live_without_token"] = guarded.is_server_live()
        report["auth_missing_error"] = error_of(lambda: guarded.get_model_metadata("fraud"))
        report["auth_wrong_error"] = error_of(lambda: guarded.infer("fraud", [grpc_input], headers={"authorization": "Bearer nope"}))
        with_token = guarded.infer("fraud", [grpc_input], headers={"authorization": f"Bearer {token}"})
        report["auth_with_token_max_abs_diff"] = float(np.max(np.abs(with_token.as_numpy("probabilities") - expected)))
    print(json.dumps(report))


def trim(identity_path: str, out_path: str) -> None:
    """The identity fixture minus its FP16 pair: typed contents cannot carry FP16, and the model needs every input."""
    model = onnx.load(identity_path)
    graph = model.graph
    for node in [n for n in graph.node if "in_FP16" in n.input]:
        graph.node.remove(node)
    for value in [v for v in graph.input if v.name == "in_FP16"]:
        graph.input.remove(value)
    for value in [v for v in graph.output if v.name == "out_FP16"]:
        graph.output.remove(value)
    onnx.save(model, out_path)


if __name__ == "__main__":
    if sys.argv[1] == "trim":
        trim(sys.argv[2], sys.argv[3])
    else:
        main()
