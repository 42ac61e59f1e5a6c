"""The paper book's matching, driven directly with candles: the rules the venues' tests cannot
reach by moving a clock."""

from decimal import Decimal as D
from pathlib import Path

from bot.exchange.base import Market, OrderRequest, OrderStatus, OrderType, Side
from bot.exchange.fills import Bar, FillModel
from bot.exchange.paper_book import PaperBook

MARKET = Market("AAA/USDT", "AAA", "USDT", price_tick=D("0.01"), amount_step=D("0.001"))


def bar(open_ms: int, high: str, volume: str) -> Bar:
    return Bar(open_ms, D(100), D(high), D(99), D(100), D(volume))


def test_a_candle_matched_twice_fills_a_partial_order_once(tmp_path: Path) -> None:
    """The paper broker matches again from the slowest symbol's candle when one lags; a candle an
    order already traded in must not fill it a second time."""
    book = PaperBook(
        fee_frac=D(0),
        state_path=tmp_path / "paper.sqlite",
        initial_balances={"AAA": D(1)},
        now_ms=0,
        model=FillModel(volume_share=D("0.1")),
    )
    book.submit(OrderRequest("k-1p0", "AAA/USDT", Side.SELL, OrderType.LIMIT, D(1), price=D(105)), MARKET, D(100), 0)
    candles = [bar(0, "106", "2"), bar(60_000, "104", "50")]
    book.match_bars("AAA/USDT", MARKET, candles)
    book.match_bars("AAA/USDT", MARKET, candles)
    state = book.order("AAA/USDT", "k-1p0")
    assert state is not None and (state.status, state.filled) == (OrderStatus.OPEN, D("0.2"))
    book.match_bars("AAA/USDT", MARKET, [bar(120_000, "105", "0.009")])  # a tenth rounds to no lot
    assert book.order("AAA/USDT", "k-1p0") == state
    assert book.balances()["USDT"].free == D("0.2") * 105
    book.close()
