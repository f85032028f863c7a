"""The peer bench/burst.py measures the platform against: a WhatsApp bot a developer would write with pywa 4.5.0.

    bench/.peers-venv/bin/pywa run bench/peers/pywa_bot.py --host 127.0.0.1 --port 8100 --workers 2

pywa's own production server (`pywa run`: its Starlette app under uvicorn) acknowledges each webhook and then runs
the handler as a background task. In `model` mode the handler asks an OpenAI-compatible model for the answer and
replies with it through Graph; in `echo` mode it replies with the customer's text at once. Nothing is stored: there
is no inbox, no status folding, no retry, so its figures are the floor of what answering costs, not a like-for-like
product. The bench sets it up through these variables:

    PYWA_BOT_MODE         model | echo
    PYWA_BOT_PHONE_ID     the phone_number_id it answers for
    PYWA_BOT_APP_SECRET   the app secret its webhooks are signed with
    PYWA_BOT_GRAPH_URL    where Graph requests go instead of https://graph.facebook.com
    PYWA_BOT_MODEL_URL    the model's base URL, e.g. http://127.0.0.1:9000/v1 (model mode)
    PYWA_BOT_MODEL        the model's name (model mode)
"""

import os

import httpx
from pywa_async import WhatsApp, filters, types

MODE = os.environ.get("PYWA_BOT_MODE", "echo")
# httpx allows 100 connections per client by default, which would cap the bot at 100 model calls at once; a bot
# meant to answer a burst raises it, as this one does (the fake model answers any number at once).
LIMITS = httpx.Limits(max_connections=2000, max_keepalive_connections=200)


class LoopbackGraph(httpx.AsyncHTTPTransport):
    """Sends pywa's Graph requests to the bench's loopback Graph.

    pywa 4.5.0 fixes Graph's address (`GraphAPI.__init__` sets the session's base_url to
    https://graph.facebook.com/v<version>) but sends with the httpx client it is given, so the address is
    changed here, on the way out, and nothing else about the request is."""

    def __init__(self, graph_url: str) -> None:
        super().__init__(limits=LIMITS)
        self._target = httpx.URL(graph_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self._target.scheme, host=self._target.host, port=self._target.port)
        return await super().handle_async_request(request)


wa = WhatsApp(
    phone_id=os.environ.get("PYWA_BOT_PHONE_ID", "0"),
    token="EAAG-pywa-peer",
    session=httpx.AsyncClient(
        transport=LoopbackGraph(os.environ.get("PYWA_BOT_GRAPH_URL", "http://127.0.0.1:9")), timeout=30
    ),
    verify_token="pywa-peer",
    app_secret=os.environ.get("PYWA_BOT_APP_SECRET", ""),
    webhook_endpoint="/webhooks/whatsapp/",
)
model = httpx.AsyncClient(
    base_url=os.environ.get("PYWA_BOT_MODEL_URL", "http://127.0.0.1:9"), timeout=60, limits=LIMITS
)


async def model_answer(text: str) -> str:
    response = await model.post(
        "/chat/completions",
        json={
            "model": os.environ.get("PYWA_BOT_MODEL", ""),
            "messages": [
                {"role": "system", "content": "Answer in one short message."},
                {"role": "user", "content": text},
            ],
        },
    )
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


@wa.on_message(filters.text)
async def answer(_: WhatsApp, message: types.Message) -> None:
    await message.reply_text(await model_answer(message.text) if MODE == "model" else message.text)
