"""HTTP inference: `textrnn serve RUN_DIR`. FastAPI on uvicorn, loopback by default.

POST /predict {"texts": [...]}   probability and label per text, in order (one batch per request)
POST /explain {"text": "..."}    the per-word trace (textrnn.app.explain)
GET  /health, GET /model         liveness; name, summary, vocabulary, training metrics, version
GET  /                           a page: text box, button, probability, shaded words
GET  /docs, /openapi.json        the OpenAPI schema
Limits answer 4xx, never crash: body size, texts per request, characters per text, wrong JSON or
types, empty strings, non-UTF-8 bodies. The model is loaded once and shared; inference runs under
torch.inference_mode.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AfterValidator, BaseModel, Field

import textrnn
from textrnn.app.explain import explain, render_html
from textrnn.app.runs import load_run_model
from textrnn.models.summary import render_summary
from textrnn.serialization import read_json

MAX_BODY_BYTES = 1_000_000
DRAIN_FACTOR = 16  # an oversized body is read and dropped up to 16 MB before the 413, then cut off
MAX_TEXTS = 256
MAX_CHARS = 20_000
RUN_ENV = "TEXTRNN_SERVE_RUN"


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text must not be empty")
    return text


Text = Annotated[str, Field(max_length=MAX_CHARS), AfterValidator(_not_blank)]


class PredictRequest(BaseModel):
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)


class Prediction(BaseModel):
    probability: float = Field(description="P(positive class) for a binary model, else of the label")
    label: str


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class ExplainRequest(BaseModel):
    text: Text


class _BodyLimit:
    """ASGI middleware: refuse bodies over the limit (413) before they are read whole, and
    non-UTF-8 bodies (400), with a JSON error."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(receive, send, more_body=True)
        chunks, size = [], 0
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._too_large(receive, send, message.get("more_body", False))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return await _reject(send, 400, f"body is not valid UTF-8 (byte {exc.start})")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _too_large(self, receive, send, more_body: bool) -> None:
        """413, after reading and discarding the rest of the body (up to DRAIN_FACTOR times the
        limit): a client such as urllib reads no reply until it has sent its whole body, so closing
        on it mid-send gives it a broken pipe instead of the 413."""
        drained = 0
        while more_body and drained <= DRAIN_FACTOR * self.limit:
            message = await receive()
            drained += len(message.get("body", b""))
            more_body = message.get("more_body", False)
        await _reject(send, 413, f"body over {self.limit} bytes")


async def _reject(send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def create_app(run_dir: str | Path | None = None) -> FastAPI:
    run_dir = Path(run_dir or os.environ[RUN_ENV])
    model = load_run_model(run_dir)
    model.eval()
    encoder = model.text_encoder
    metrics_path = run_dir / "metrics.json"
    metrics = read_json(metrics_path) if metrics_path.is_file() else None
    app = FastAPI(title="textrnn", version=textrnn.__version__,
                  description=f"Sentiment model {model.name} from {run_dir}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        return JSONResponse({"detail": f"{where or 'body'}: {first.get('msg', 'invalid request')}"},
                            status_code=422)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/model")
    def model_info() -> dict:
        return {"name": model.name, "run": str(run_dir), "version": textrnn.__version__,
                "labels": encoder.labels, "vocabulary_size": encoder.vocabulary.size,
                "maxlen": encoder.maxlen, "params": model.count_params(),
                "networks": 1 + len(getattr(model, "members", [])),
                "linear_head": getattr(model, "linear_head", None) is not None,
                "summary": render_summary(model, line_length=88),
                "test_metrics": metrics.get("test") if metrics else None}

    @app.post("/predict", response_model=PredictResponse)
    def predict(request: PredictRequest) -> PredictResponse:
        with torch.inference_mode():
            probs = model.predict(encoder.encode(request.texts), batch_size=len(request.texts))
        out = []
        for p in probs:
            if len(p) == 1:
                out.append(Prediction(probability=float(p[0]), label=encoder.labels[int(p[0] > 0.5)]))
            else:
                out.append(Prediction(probability=float(p.max()), label=encoder.labels[int(p.argmax())]))
        return PredictResponse(predictions=out)

    @app.post("/explain")
    def explain_text(request: ExplainRequest) -> dict:
        with torch.inference_mode():
            exp = explain(model, request.text)
        return {**exp.to_json(), "html": render_html(exp, standalone=False)}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return resources.files("textrnn.app").joinpath("web", "index.html").read_text(encoding="utf-8")

    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers (`--workers N` starts processes that import this)."""
    return create_app(os.environ[RUN_ENV])


def serve(run_dir: str, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    import uvicorn

    load_run_model(run_dir)  # fail here, in one line, rather than in every worker
    os.environ[RUN_ENV] = str(run_dir)
    uvicorn.run("textrnn.app.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="info")
