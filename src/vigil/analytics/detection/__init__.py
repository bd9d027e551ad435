"""Object detection: model adapters, the HOG fallback, the shared detector service, models.

Import the modules themselves: this package stays light, so the configuration can name
DetectorSettings without loading NumPy, OpenCV or ONNX Runtime.
"""
