"""The lab: a local web page to train, watch and look inside models (``nnatlas lab``).

:func:`create_app` builds the FastAPI application (:mod:`.app`), guarded by :mod:`.safety`;
trainings wait in the :mod:`.jobs` queue; the routes live in :mod:`.routers` by area
(the queue's live events, the playground, zoo trainings and the run browser, the explorers);
:mod:`.playground` is the MLP on 2-D points (NumPy engine) and :mod:`.export` writes it as a
Python file. The page is ``static/``: HTML, CSS and JavaScript, no framework, no CDN. The lab
uses nnatlas's public API only (``nnatlas.tasks``, ``nnatlas.inspect``, ``nnatlas.models``,
``nnatlas.data``, ``nnatlas.scratch``).
"""

from nnatlas.lab.app import LabSettings, create_app
from nnatlas.lab.safety import LOOPBACK, new_token

__all__ = ["LOOPBACK", "LabSettings", "create_app", "new_token"]
