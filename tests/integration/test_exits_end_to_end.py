"""Every exit kind through the real daemon, on hand-made candles, with hand-checked numbers.

All seven pairs enter on candle 2's signal at candle 3's open (100.00, amount 1.0000, fee 0.1).
Rules: ROI {0: 5 %, 10 min: 1 %}, stoploss -5 %, trailing 2 % once +3 % is reached, fee 0.1 %."""

from decimal import Decimal as D
from pathlib import Path

from tests.integration.harness import assert_books_balance, assert_no_duplicate_orders, read_back, run_daemon

SCRIPTED = '''
from bot.strategy import Strategy


class Scripted(Strategy):
    """Enters where volume is 777, exits on signal where volume is 999: the test writes the signals."""

    timeframe = "5m"
    minimal_roi = {"0": 0.05, "10": 0.01}
    stoploss = -0.05
    trailing_stop = True
    trailing_stop_positive = 0.02
    trailing_stop_positive_offset = 0.03
    trailing_only_offset_is_reached = True

    def populate_entry_trend(self, df, metadata):
        df.loc[df["volume"] == 777, "enter_long"] = 1
        return df

    def populate_exit_trend(self, df, metadata):
        df.loc[df["volume"] == 999, "exit_long"] = 1
        return df
'''

FLAT = (100.0, 100.5, 99.5, 100.0, 1.0)
SIGNAL = (100.0, 100.5, 99.5, 100.0, 777.0)
# candle 3 and 4 (and 5) per pair; the entry fills at candle 3's open, 100.00
SCENARIOS = {
    "AAA/USDT": [(100, 101, 99.5, 100.5, 1), (100.5, 106, 100, 105, 1)],  # ROI 105.21 in candle 4
    "BBB/USDT": [(100, 101, 99.5, 100.5, 1), (100.5, 101, 94, 95.5, 1)],  # stop 95.00 in candle 4
    "CCC/USDT": [(100, 104, 99.5, 103.5, 1), (103.5, 104.5, 101.5, 102, 1)],  # high 104 -> trail 101.92
    "DDD/USDT": [(100, 101, 99.5, 100.7, 999), (100.7, 101, 100, 100.5, 1)],  # exit signal -> 100.70
    "EEE/USDT": [(100, 101, 99.5, 100.5, 1), (93, 94, 92, 93.5, 1)],  # gap through the stop -> 93.00
    "FFF/USDT": [(100, 101, 99.5, 100.5, 1), (100.5, 101, 100, 100.8, 1), (100.8, 101.5, 100.5, 101, 1)],
    "GGG/USDT": [(100, 101, 99.5, 100.5, 1), (100.5, 102.5, 100, 102, 1), (102, 102.4, 101.8, 102.2, 1)],
}
# (exit reason, close rate, profit) computed by hand:
# profit = close * 1 * (1 - 0.001) - 100 * 1 * (1 + 0.001)
EXPECTED = {
    "AAA/USDT": ("roi", D("105.21"), D("5.00479")),  # 100 * 1.001 * 1.05 / 0.999 = 105.2102 -> 105.21
    "BBB/USDT": ("stop_loss", D("95.00"), D("-5.19500")),
    "CCC/USDT": ("trailing_stop_loss", D("101.92"), D("1.71808")),  # 104 * 0.98
    "DDD/USDT": ("exit_signal", D("100.7"), D("0.49930")),  # candle 4's open
    "EEE/USDT": ("stop_loss", D("93"), D("-7.19300")),  # the open, below the stop
    "FFF/USDT": ("roi", D("101.20"), D("0.99880")),  # at 10 min the target drops to 101.2022 -> 101.20
    "GGG/USDT": ("roi", D("102"), D("1.79800")),  # new target 101.20 is below the price: taker at 102
}


async def test_each_exit_kind_fills_where_the_rules_say(scripted_config: Path) -> None:
    await run_daemon(scripted_config, ticks=6)
    stored = await read_back(scripted_config)
    trades = stored.by_pair()
    assert set(trades) == set(SCENARIOS)
    for pair, (reason, close_rate, profit) in EXPECTED.items():
        t = trades[pair]
        assert (t.open_rate, t.amount, t.open_fee) == (D("100"), D("1"), D("0.1")), pair
        assert (t.status, t.exit_reason, t.close_rate, t.profit_quote) == ("closed", reason, close_rate, profit), pair
    t0 = 1_704_067_200_000
    assert trades["AAA/USDT"].open_ms == t0 + 3 * 300_000
    assert trades["AAA/USDT"].close_ms == t0 + 4 * 300_000  # during candle 4
    assert trades["DDD/USDT"].close_ms == t0 + 4 * 300_000  # at candle 4's open
    assert trades["FFF/USDT"].close_ms == t0 + 5 * 300_000
    assert_no_duplicate_orders(stored)
    assert_books_balance(stored, D(1000), "USDT")
