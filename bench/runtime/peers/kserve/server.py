"""KServe peer: the wide MLP (onnxruntime, CPU) as a kserve.Model behind KServe's Python ModelServer, V2 REST.

KServe's Python model server has no batcher of its own (KServe batches in its agent sidecar, not in
this process), so it runs as it ships: one request, one predict(). One uvicorn worker (its default).
KServe binds 0.0.0.0 (not configurable); the benchmark sends only to 127.0.0.1.
Environment: PEER_MODEL (the .onnx path), PEER_HTTP_PORT.
"""
import logging
import os
import uuid

import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


class OnnxRuntimeModel(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self._path = path
        self.load()

    def load(self) -> bool:
        self._session = ort.InferenceSession(self._path, providers=["CPUExecutionProvider"])
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        features = payload.inputs[0].as_numpy().astype(np.float32, copy=False)
        label, probabilities = self._session.run(["label", "probabilities"], {"features": features})
        outputs = []
        for name, array in (("label", label), ("probabilities", probabilities)):
            output = InferOutput(name=name, shape=list(array.shape), datatype="INT64" if array.dtype == np.int64 else "FP32")
            output.set_data_from_numpy(array, binary_data=False)
            outputs.append(output)
        return InferResponse(response_id=payload.id or str(uuid.uuid4()), model_name=self.name, infer_outputs=outputs)


if __name__ == "__main__":
    model = OnnxRuntimeModel("wide", os.environ["PEER_MODEL"])
    server = ModelServer(http_port=int(os.environ["PEER_HTTP_PORT"]), enable_grpc=False, enable_latency_logging=False, workers=1)
    # As the other servers run here (the runtime at log level warn): no log line per request.
    for logger in ("uvicorn.access", "kserve", "kserve.trace"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    server.start([model])
