"""The ML pipeline on real Binance candles (`../shared/data/ohlcv`, skipped without it): 1h BTC and
ETH with Binance's real outages in them, and a few of the 2024 multi-pair files. Features (with a
longer timeframe and an informative pair) stay causal across the gaps, every walk-forward window
keeps its purge in time, anchored windows train on everything before them, and the same data and
seed give the same model bytes."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
import pytest

from bot.ml.candidate import build_candidate, open_ms
from bot.ml.features import FeatureSet, frame_is_causal, strategy_features
from bot.ml.strategy import MLStrategy
from tests.conftest import SHARED

OHLCV = SHARED / "data" / "ohlcv"
pytestmark = pytest.mark.skipif(not OHLCV.is_dir(), reason="../shared/data/ohlcv is absent")


class Hourly(MLStrategy):
    timeframe: ClassVar[str] = "1h"
    feature_set: ClassVar[FeatureSet] = FeatureSet(return_horizons=(1, 6, 24), volatility_windows=(24,))
    higher_timeframes: ClassVar[tuple[str, ...]] = ("4h",)
    informative_pairs: ClassVar[tuple[str, ...]] = ("BTC/USDT",)
    label_horizon: ClassVar[int] = 6
    label_threshold: ClassVar[float] = 0.01
    train_rows: ClassVar[int] = 1500
    test_rows: ClassVar[int] = 600


def real(pair: str, start: str, end: str) -> pd.DataFrame:
    frame = pd.read_feather(OHLCV / f"binance_{pair.replace('/', '_')}-1h.feather")
    return frame[(frame["date"] >= start) & (frame["date"] < end)].reset_index(drop=True)


def test_features_stay_causal_across_binance_outages() -> None:
    eth, btc = real("ETH/USDT", "2020-01-01", "2021-01-01"), real("BTC/USDT", "2020-01-01", "2021-01-01")
    assert len(eth) < 366 * 24  # the year has Binance's outages in it: rows are missing, not filled

    def build(c: pd.DataFrame) -> pd.DataFrame:
        then = {"BTC/USDT": btc[btc["date"] <= c["date"].iloc[-1]]}
        return strategy_features(c, Hourly.feature_set, timeframe="1h", higher=("4h",), informative=then)

    cuts = [300, 1000, 1001, 1002, 1003, 4321, len(eth) - 1]
    assert frame_is_causal(build, eth, cuts) == []


@pytest.mark.parametrize("anchored", [False, True])
def test_walk_forward_on_real_candles_keeps_the_purge_in_time_and_is_deterministic(anchored: bool) -> None:
    strategy = type("HourlyWindows", (Hourly,), {"anchored_windows": anchored})(load_model=False)
    frames = {
        pair: real(pair, "2021-06-01", "2021-12-15") for pair in ("BTC/USDT", "ETH/USDT")
    }  # 2021-08-13 has an outage of 5 hours
    first = build_candidate(frames, strategy, fee_frac=0.001, seed=7, trained_at_ms=0)
    windows = first.judged.windows
    assert len(windows) >= 3 and windows[-1].split.test.stop == len(first.x)
    horizon_ms = Hourly.label_horizon * 3_600_000
    for w in windows:
        assert open_ms(first.dates.iloc[w.split.train.stop - 1]) + horizon_ms < open_ms(
            first.dates.iloc[w.split.test.start]
        )
        assert (w.split.train.start == 0) is (anchored or (w is windows[0] and w.split.train.start == 0))
    assert first.metric is not None and 0.3 < first.metric < 0.8  # real data: no planted edge, no leak either
    assert {c.split("_f_")[0] for c in first.x.columns if "_f_" in c} == {"h4h", "i_BTC_USDT"}
    again = build_candidate(frames, strategy, fee_frac=0.001, seed=7, trained_at_ms=0)
    assert again.model.model_to_string() == first.model.model_to_string()
