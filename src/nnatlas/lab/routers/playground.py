"""The playground's routes: start a training, upload a CSV of points, export the network."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import Request

from nnatlas.lab.safety import LabHTTPError, confine, read_body

_upload_ids = itertools.count(1)
KEEP_UPLOADS = 8


def router(lab: Any) -> Any:
    from fastapi import APIRouter
    from fastapi.responses import Response

    from nnatlas.lab import playground as pg

    api = APIRouter(prefix="/api/playground")

    @api.post("")
    def start(values: dict[str, Any]) -> dict[str, Any]:
        spec = pg.PlaygroundSpec.from_dict(values)
        points = _points(lab, spec)  # read now: a bad CSV is refused before it queues
        title = f"playground {spec.hidden} {spec.data}"

        def work(job: Any) -> dict[str, Any]:
            trained = pg.train(spec, points, job)
            job.artifact = trained  # kept in memory for the export
            last = trained.history[-1]
            return {"test_accuracy": last["test_accuracy"], "train_loss": last["train_loss"]}

        return lab.queue.submit("playground", title, spec.to_dict(), work).summary()

    @api.post("/csv")
    async def upload_csv(request: Request) -> dict[str, Any]:
        """A CSV of points (x1,x2,label) as the request body; returns the name to train on."""
        body = await read_body(request, lab.settings.max_upload_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LabHTTPError(
                400, f"the CSV is not UTF-8 text (byte {err.start}); save it as UTF-8"
            ) from None
        name = f"@upload-{next(_upload_ids)}"
        points = pg.csv_points(text, "the uploaded CSV", 0.3, 0)  # refuses a malformed file
        lab.uploads[name] = text
        while len(lab.uploads) > KEEP_UPLOADS:
            lab.uploads.pop(next(iter(lab.uploads)))
        return {
            "data": f"csv:{name}",
            "rows": len(points.x_train) + len(points.x_test),
            "classes": points.classes,
        }

    @api.get("/{job_id}/export.py")
    def export(job_id: int) -> Response:
        from nnatlas.lab.export import export_network

        job = lab.queue.get(job_id)
        trained = job.artifact
        if job.kind != "playground" or trained is None:
            raise LabHTTPError(
                409, f"job {job_id} is {job.state}; a finished playground training exports"
            )
        headers = {"Content-Disposition": f'attachment; filename="playground-{job_id}.py"'}
        return Response(export_network(trained), media_type="text/x-python", headers=headers)

    return api


def _points(lab: Any, spec: Any) -> Any:
    from nnatlas.lab import playground as pg

    if not spec.data.startswith("csv:"):
        return pg.load_points(spec)
    name = spec.data[4:]
    if name.startswith("@"):
        if name not in lab.uploads:
            raise LabHTTPError(
                404, f"{name}: no such upload (the lab keeps the last {KEEP_UPLOADS})"
            )
        return pg.load_points(spec, lab.uploads[name], "the uploaded CSV")
    path = confine(lab.settings.data_dir, name, "data")
    if not path.is_file():
        raise LabHTTPError(404, f"csv:{name}: no such file in the data folder")
    return pg.load_points(spec, pg.read_csv_file(path, lab.settings.max_upload_bytes), name)
