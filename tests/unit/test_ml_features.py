"""ML features, labels and walk-forward splits: causal (values on candle t never change when later
candles are added, and a leaky feature is caught), labels dropped rather than filled where the future
is missing, and the purge gap between training and test windows enforced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.errors import TrainingError
from bot.ml.features import (
    FeatureSet,
    build_features,
    frame_is_causal,
    higher_timeframe,
    informative_features,
    strategy_features,
)
from bot.ml.labels import beats_threshold, forward_return, training_rows
from bot.ml.splits import check_purge, walk_forward
from bot.ml.strategy import MLStrategy
from bot.ml.train import TrainSpec, fit

FIVE_MIN = 300_000
HOUR = 3_600_000


def candles(n: int, seed: int, start: str = "2024-03-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opened = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.005, n)) * close
    return pd.DataFrame(
        {
            "date": pd.date_range(start, periods=n, freq="5min", tz="UTC"),
            "open": opened,
            "high": np.maximum(opened, close) + spread,
            "low": np.minimum(opened, close) - spread,
            "close": close,
            "volume": rng.lognormal(3, 1, n),
        }
    )


CUTS = [60, 150, 299, 400]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_feature_is_causal(seed: int) -> None:
    data = candles(500, seed)
    spec = FeatureSet()
    assert frame_is_causal(lambda c: build_features(c, spec), data, CUTS) == []
    other = candles(500, seed + 100)
    assert frame_is_causal(lambda c: informative_features(c, other.iloc[: len(c)], spec, "btc"), data, CUTS) == []
    assert frame_is_causal(lambda c: higher_timeframe(c, spec, FIVE_MIN, HOUR, "1h"), data, CUTS) == []


def test_a_leaky_feature_is_caught() -> None:
    data = candles(500, 7)

    def leaky(c: pd.DataFrame) -> pd.DataFrame:
        built = build_features(c, FeatureSet())
        built["f_tomorrow"] = c["close"].shift(-1)  # next candle's close: the classic leak
        built["f_centered"] = c["close"].rolling(5, center=True).mean()  # a centred window peeks too
        return built

    problems = frame_is_causal(leaky, data, CUTS)
    assert {p.split(":")[0] for p in problems} == {"f_tomorrow", "f_centered"}
    assert "looks ahead" in problems[0]


def test_features_need_their_window_and_then_are_all_defined() -> None:
    spec = FeatureSet()
    built = build_features(candles(400, 4), spec)
    assert built.iloc[: max(spec.return_horizons)].isna().any(axis=1).all()
    assert built.iloc[spec.warmup :].notna().all().all()
    assert built["f_rsi_14"].dropna().between(0, 1).all()


def test_a_higher_timeframe_appears_only_once_its_candle_has_closed() -> None:
    data = candles(36, 5, start="2024-03-01 00:00")  # 00:00 .. 02:55
    spec = FeatureSet(
        return_horizons=(1,),
        volatility_windows=(),
        rsi_period=None,
        atr_period=None,
        volume_z_window=None,
        candle_shape=True,
        calendar=False,
    )
    wide = higher_timeframe(data, spec, FIVE_MIN, HOUR, "h")
    first_hour = data.iloc[:12]
    body = (first_hour["close"].iloc[-1] - first_hour["open"].iloc[0]) / (
        first_hour["high"].max() - first_hour["low"].min()
    )
    assert wide["h_f_body"].iloc[:12].isna().all()  # 00:00..00:55: the hour is still open
    assert wide["h_f_body"].iloc[12:24].tolist() == pytest.approx([body] * 12)  # 01:00..01:55
    assert wide["h_f_ret_1"].iloc[24] == pytest.approx(np.log(data["close"].iloc[23] / data["close"].iloc[11]))


def test_labels_need_the_future_and_pay_the_fees() -> None:
    close = pd.Series([100.0, 101.0, 103.0, 103.5])
    assert forward_return(close, 2).iloc[:2].tolist() == pytest.approx([np.log(1.03), np.log(103.5 / 101)])
    assert forward_return(close, 2).iloc[2:].isna().all()
    # +1.00 % is under a 1 % threshold once 0.1 % is paid twice; +1.98 % is over it
    label = beats_threshold(close, 1, threshold=0.01, fee_frac=0.001)
    assert label.iloc[:3].tolist() == [0.0, 1.0, 0.0] and np.isnan(label.iloc[3])
    assert beats_threshold(pd.Series([100.0, 101.05]), 1, 0.01, 0.0).iloc[0] == 1.0
    features = pd.DataFrame({"f": [np.nan, 1.0, 2.0, 3.0]})
    kept_x, kept_y = training_rows(features, label)
    assert kept_x.index.tolist() == [1, 2] and kept_y.tolist() == [1.0, 0.0]  # unknown rows dropped
    with pytest.raises(TrainingError, match="label_horizon"):
        forward_return(close, 0)


def test_walk_forward_windows_keep_the_purge_gap() -> None:
    rolling = walk_forward(100, train=50, test=10, purge=5)
    assert [(s.train, s.test) for s in rolling] == [  # the last test window ends with the data
        (range(5, 55), range(60, 70)),
        (range(15, 65), range(70, 80)),
        (range(25, 75), range(80, 90)),
        (range(35, 85), range(90, 100)),
    ]
    anchored = walk_forward(100, train=50, test=10, purge=5, anchored=True)
    assert [s.train.start for s in anchored] == [0, 0, 0, 0] and anchored[-1].train.stop == 85
    assert check_purge(rolling, horizon=5) == []
    assert check_purge(rolling, horizon=6) == [
        f"split {i}: 5 rows between training and test, fewer than the label horizon 6" for i in range(4)
    ]
    for s in rolling:  # no training row's label reaches into its test window
        assert s.train.stop - 1 + 5 < s.test.start
    with pytest.raises(TrainingError, match="walk-forward"):
        walk_forward(100, train=0, test=10, purge=5)


class WithHourly(MLStrategy):
    timeframe = "5m"
    feature_set = FeatureSet(return_horizons=(1, 3), volatility_windows=(6,), rsi_period=None, atr_period=None,
                             volume_z_window=None, candle_shape=False, calendar=True)  # fmt: skip
    higher_timeframes = ("1h",)


def test_a_strategy_declares_higher_timeframes_and_they_stay_causal() -> None:
    strategy = WithHourly(load_model=False)
    data = candles(900, 8)

    def build(c: pd.DataFrame) -> pd.DataFrame:
        return strategy_features(c, strategy.feature_set, timeframe="5m", higher=strategy.higher_timeframes)

    built = build(data)
    hourly = [c for c in built.columns if c.startswith("h1h_")]
    assert hourly == ["h1h_f_ret_1", "h1h_f_ret_3", "h1h_f_vol_6"]  # no calendar twice
    assert built[hourly].iloc[-1].notna().all()
    assert frame_is_causal(build, data, [300, 455, 456, 457, 700]) == []


def test_a_model_trained_on_other_features_is_refused_not_misread() -> None:
    strategy = WithHourly(load_model=False)
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(400, 2)), columns=["f_a", "f_b"])
    other = fit(x, pd.Series((x["f_a"] > 0).astype("float64")), TrainSpec(rounds=5))
    strategy.use_model(other, "v0007")
    with pytest.raises(ValueError, match=r"model v0007 was trained on other features \(2, not 10\)"):
        strategy.populate_indicators(candles(900, 9), {"pair": "AAA/USDT"})


class WithBtc(WithHourly):
    higher_timeframes = ()
    informative_pairs = ("BTC/USDT",)


def test_an_informative_pair_joins_as_of_and_stays_causal_when_cut_at_the_same_time() -> None:
    strategy, ours, btc = WithBtc(load_model=False), candles(600, 10), candles(600, 11)

    def build(c: pd.DataFrame) -> pd.DataFrame:
        then = btc[btc["date"] <= c["date"].iloc[-1]]
        return strategy.populate_indicators(c.copy(), {"informative": {"BTC/USDT": then}})

    assert (
        frame_is_causal(
            lambda c: strategy_features(
                c,
                strategy.feature_set,
                timeframe="5m",
                informative={"BTC/USDT": btc[btc["date"] <= c["date"].iloc[-1]]},
            ),
            ours,
            [100, 333, 599],
        )
        == []
    )
    built = strategy_features(ours, strategy.feature_set, timeframe="5m", informative={"BTC/USDT": btc})
    assert list(built.columns[-3:]) == ["i_BTC_USDT_f_ret_1", "i_BTC_USDT_f_ret_3", "i_BTC_USDT_f_vol_6"]
    np.testing.assert_allclose(built["i_BTC_USDT_f_ret_1"].iloc[1:], np.diff(np.log(btc["close"])))
    assert build(ours)["ml_probability"].isna().all()  # no model: no probability, so no entry
    with pytest.raises(ValueError, match=r"^informative pair BTC/USDT: no candles \(is it in exchange"):
        strategy.populate_indicators(ours.copy(), {"informative": {}})


def test_the_informative_join_takes_the_latest_earlier_candle_when_the_other_pair_has_gaps() -> None:
    ours, btc = candles(300, 12), candles(300, 13)
    holey = btc.drop(index=range(100, 110)).reset_index(drop=True)  # ten candles missing
    spec = FeatureSet(return_horizons=(1,), volatility_windows=(), rsi_period=None, atr_period=None,
                      volume_z_window=None, candle_shape=False, calendar=False)  # fmt: skip
    joined = informative_features(ours, holey, spec, "btc")
    theirs = build_features(holey, spec)
    for row in range(100, 110):  # each missing candle: the value of candle 99, never of candle 110
        assert joined["btc_f_ret_1"].iloc[row] == theirs["f_ret_1"].iloc[99]
    assert joined["btc_f_ret_1"].iloc[110] == theirs["f_ret_1"].iloc[100]
