"""A local stand-in for the one exchange endpoint ``freqtrade backtesting`` calls: Binance's market list.

Why: Freqtrade loads the exchange's markets (pairs, precisions, limits) even for a backtest on
local candles, and its maintainers say there is no offline mode (freqtrade issues #5526, #11239,
#12456). ccxt reads every URL from its exchange description, which a Freqtrade config may
override (``exchange.ccxt_config.urls``), so pointing Binance's public API at this server on
127.0.0.1 lets the real ``freqtrade backtesting`` run with no network. Only ``exchangeInfo`` is
served; any other request is answered 404 and recorded, so a test can assert none was made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Prices and amounts to 8 decimals, so Freqtrade's precision rounding leaves candor's prices alone.
FILTERS = [{"filterType": "PRICE_FILTER", "minPrice": "0.00000001", "maxPrice": "10000000", "tickSize": "0.00000001"},
           {"filterType": "LOT_SIZE", "minQty": "0.00000001", "maxQty": "10000000", "stepSize": "0.00000001"},
           {"filterType": "NOTIONAL", "minNotional": "1", "maxNotional": "100000000"}]


def exchange_info(pairs: list[str]) -> dict[str, Any]:
    symbols = [{"symbol": pair.replace("/", ""), "status": "TRADING", "baseAsset": pair.split("/")[0],
                "baseAssetPrecision": 8, "quoteAsset": pair.split("/")[1], "quotePrecision": 8,
                "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False, "filters": FILTERS, "permissions": ["SPOT"],
                "permissionSets": [["SPOT"]]} for pair in pairs]
    return {"timezone": "UTC", "serverTime": 0, "rateLimits": [], "exchangeFilters": [], "symbols": symbols}


@dataclass
class FakeExchange:
    url: str
    requests: list[str] = field(default_factory=list)

    def ccxt_config(self) -> dict[str, Any]:
        """The ``exchange.ccxt_config`` that sends ccxt's public spot API here (spot markets only)."""
        return {"urls": {"api": {"public": f"{self.url}/api/v3"}}, "options": {"fetchMarkets": {"types": ["spot"]}}}


@contextmanager
def fake_binance(pairs: list[str]) -> Iterator[FakeExchange]:
    body = json.dumps(exchange_info(pairs)).encode()
    exchange = FakeExchange(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            exchange.requests.append(self.path)
            known = self.path.split("?")[0].endswith("/exchangeInfo")
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if known else b"{}")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    exchange.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield exchange
    finally:
        server.shutdown()
        server.server_close()
