"""Object detection: model adapters, the HOG fallback, the shared detector service, models.

Import the modules themselves: this package stays light (its settings are in
vigil.settings.detector), so nothing loads NumPy, OpenCV or ONNX Runtime by importing it.
"""
