"""Other frameworks' files: Keras 3 `.keras` archives (both ways) and ONNX export."""
