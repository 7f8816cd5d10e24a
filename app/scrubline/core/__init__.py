"""The Qt-free engine: video access, models, analysis, the case store and timelines."""
