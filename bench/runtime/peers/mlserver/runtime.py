"""MLServer peer: a custom MLServer runtime that runs the wide MLP with onnxruntime (CPU).

MLServer's adaptive batching is on (model-settings.json: max_batch_size, max_batch_time): it merges
concurrent requests on their first dimension before predict() and splits the answer after it.
"""
import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxRuntimeModel(MLModel):
    async def load(self) -> bool:
        self._session = ort.InferenceSession(await get_model_uri(self._settings), providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        features = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
        label, probabilities = self._session.run(["label", "probabilities"], {"features": features})
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[NumpyCodec.encode_output("label", label), NumpyCodec.encode_output("probabilities", probabilities)],
        )
