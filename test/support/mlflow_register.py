"""Registers ONNX models in a real MLflow model registry, as a data scientist would with MLflow's client.

  mlflow_register.py <tracking-uri> log <name> <model.onnx>      logs it with the onnx flavor and registers
                                                                  a new version of <name>; prints the version
                                                                  and the SHA-256 of the model.onnx MLflow stored
  mlflow_register.py <tracking-uri> alias <name> <alias> <version>  points <alias> at <version> ("promote")
"""
import hashlib
import os
import sys
import tempfile

import mlflow
import onnx
from mlflow import MlflowClient


def main(tracking_uri: str, command: str, *args: str) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    if command == "log":
        name, path = args
        with mlflow.start_run():
            # One self-contained model.onnx: the runtime downloads that one file, and MLflow's default
            # (save_as_external_data=True) would move the initializers into a file beside it.
            info = mlflow.onnx.log_model(onnx.load(path), name="model", registered_model_name=name, save_as_external_data=False)
        # log_model writes the model out again, so the stored file need not be byte-identical to the input.
        with tempfile.TemporaryDirectory() as local:
            stored = mlflow.artifacts.download_artifacts(f"models:/{name}/{info.registered_model_version}", dst_path=local)
            with open(os.path.join(stored, "model.onnx"), "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()
        print(info.registered_model_version, digest)
    elif command == "alias":
        name, alias, version = args
        MlflowClient().set_registered_model_alias(name, alias, version)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(*sys.argv[1:])
