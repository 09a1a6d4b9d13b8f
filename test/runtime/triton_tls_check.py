"""tritonclient over TLS against the runtime: REST with ssl=True and gRPC with ssl=True, trusting the test CA.

Usage: triton_tls_check.py <host:port REST> <host:port gRPC> <model> <CA file>; prints one JSON report.
"""
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

rest, grpc_address, model, ca_file = sys.argv[1:5]
rows = np.zeros((2, 30), dtype=np.float32)
rows[1] = np.tile([0, 1.5, 3, 4.5, 6], 6)

http_client = httpclient.InferenceServerClient(url=rest, ssl=True, ssl_options={"ca_certs": ca_file})
features = httpclient.InferInput("features", list(rows.shape), "FP32")
features.set_data_from_numpy(rows, binary_data=True)
http_labels = http_client.infer(model, [features]).as_numpy("label").tolist()

grpc_client = grpcclient.InferenceServerClient(url=grpc_address, ssl=True, root_certificates=ca_file)
grpc_features = grpcclient.InferInput("features", list(rows.shape), "FP32")
grpc_features.set_data_from_numpy(rows)
grpc_labels = grpc_client.infer(model, [grpc_features]).as_numpy("label").tolist()

print(json.dumps({"rest_ready": http_client.is_server_ready(), "rest_labels": http_labels, "grpc_ready": grpc_client.is_server_ready(), "grpc_labels": grpc_labels}))
