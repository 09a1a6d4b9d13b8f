"""PyTriton peer: the wide MLP (onnxruntime, CPU) behind PyTriton's bundled Triton server, V2 REST.

Batching on: the inference function is wrapped in @batch and the model is bound with Triton's dynamic
batcher (max_batch_size PEER_MAX_BATCH_SIZE, queue delay PEER_MAX_BATCH_DELAY_US).
Environment: PEER_MODEL (the .onnx path), PEER_HTTP_PORT, PEER_GRPC_PORT, PEER_METRICS_PORT.
"""
import logging
import os
import sysconfig

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

logging.basicConfig(level=logging.WARNING)

# Triton's Python backend stub links libpython3.11.so.1.0 dynamically, and the loader finds the system's
# (Debian's 3.11.2) before this interpreter's: the stub then runs an older C core under this interpreter's
# newer standard library and fails ("'_thread.RLock' object has no attribute '_recursion_count'").
# Put this interpreter's own shared library first for the stub (tritonserver passes its environment on).
libdir = sysconfig.get_config_var("LIBDIR")
if libdir and os.path.exists(os.path.join(libdir, sysconfig.get_config_var("LDLIBRARY") or "")):
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libdir, os.environ.get("LD_LIBRARY_PATH")]))

session = ort.InferenceSession(os.environ["PEER_MODEL"], providers=["CPUExecutionProvider"])
# Per-row output widths from the model itself (probabilities: one column per class).
classes = session.get_outputs()[[o.name for o in session.get_outputs()].index("probabilities")].shape[1]
max_batch_size = int(os.environ.get("PEER_MAX_BATCH_SIZE", "64"))
max_delay_us = int(os.environ.get("PEER_MAX_BATCH_DELAY_US", "1000"))


@batch
def infer(features: np.ndarray):
    label, probabilities = session.run(["label", "probabilities"], {"features": features.astype(np.float32, copy=False)})
    # Triton wants every output batched on its first dimension: the label column as [batch, 1].
    return {"label": label.reshape(-1, 1).astype(np.int64), "probabilities": probabilities}


config = TritonConfig(
    http_address="127.0.0.1",
    http_port=int(os.environ["PEER_HTTP_PORT"]),
    grpc_address="127.0.0.1",
    grpc_port=int(os.environ["PEER_GRPC_PORT"]),
    metrics_port=int(os.environ["PEER_METRICS_PORT"]),
    log_verbose=0,
)
with Triton(config=config) as triton:
    triton.bind(
        model_name="wide",
        infer_func=infer,
        inputs=[Tensor(name="features", dtype=np.float32, shape=(64,))],
        outputs=[Tensor(name="label", dtype=np.int64, shape=(1,)), Tensor(name="probabilities", dtype=np.float32, shape=(classes,))],
        config=ModelConfig(max_batch_size=max_batch_size, batcher=DynamicBatcher(max_queue_delay_microseconds=max_delay_us)),
        strict=False,
    )
    triton.serve()
