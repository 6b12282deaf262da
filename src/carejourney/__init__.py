"""carejourney: map and measure the healthcare customer journey.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

from .errors import (CarejourneyError, EngineError, IngestError, PrivacyError, ProjectError,
                     SpecError, StoreError, ValidationError)
from .project import Project, load_project

__version__ = "0.1.0"

__all__ = [
    "__version__", "Project", "load_project", "CarejourneyError", "EngineError", "IngestError",
    "PrivacyError", "ProjectError", "SpecError", "StoreError", "ValidationError",
]
