"""The base of ML strategies: features from `feature_set`, the prediction of the promoted model in
the registry (`user_data/models/<strategy>/`: a probability, or a return when `label_kind` is
"regression"), an entry above `entry_cut()` and an exit below `exit_cut()`. Each row's prediction
uses that row's features only, so the signals are as causal as the features. Without a promoted
model the strategy never enters (and says so once)."""

from __future__ import annotations

from copy import copy as shallow_copy
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
from loguru import logger
from pandas import DataFrame

from bot.ml.features import FeatureSet, strategy_features
from bot.ml.registry import Registry, RegistryError
from bot.strategy.base import Strategy


class MLStrategy(Strategy):
    feature_set: ClassVar[FeatureSet] = FeatureSet()
    higher_timeframes: ClassVar[tuple[str, ...]] = ()  # e.g. ("1h",): the same features on 1h candles
    label_horizon: ClassVar[int] = 12  # candles ahead the label looks
    label_threshold: ClassVar[float] = 0.005  # the move, after fees, that counts as worth buying
    # classification: the probability that the move beats label_threshold after fees; enter above
    # entry_probability, exit below exit_probability. regression: the forward return after fees;
    # enter when it is predicted above label_threshold, exit when predicted below zero
    label_kind: ClassVar[Literal["classification", "regression"]] = "classification"
    entry_probability: ClassVar[float] = 0.6
    exit_probability: ClassVar[float] = 0.4
    train_rows: ClassVar[int] = 5000  # walk-forward: rows per training window
    test_rows: ClassVar[int] = 1000  # and per test window
    anchored_windows: ClassVar[bool] = False  # True: each window trains on every row before it

    def __init__(self, config: dict[str, Any] | None = None, *, load_model: bool = True) -> None:
        super().__init__(config)
        self.model: lgb.Booster | None = None
        self.model_version: str | None = None
        # a walk-forward backtest: (first candle it may predict, in ms; a model trained before it)
        self.walk_forward: list[tuple[int, lgb.Booster]] = []
        if not load_model:  # a walk-forward copy: its models come from its windows
            return
        root = Path(str(self.config.get("user_data_dir", "user_data"))) / "models"
        try:
            stored = Registry(root).load(type(self).__name__)
        except RegistryError as e:
            logger.warning("{}: {}; no entries until a model is promoted", type(self).__name__, e)
            return
        kind = "ic" if self.regression() else "auc"
        if stored.metadata.get("metric", "auc") != kind:  # a probability read as a return, or the reverse
            logger.error(
                "{}: the promoted model {} predicts {} but the strategy's label_kind is {}; no entries until "
                "a model for it is promoted",
                type(self).__name__,
                stored.version,
                "returns" if kind == "auc" else "probabilities",
                self.label_kind,
            )
            return
        self.use_model(lgb.Booster(model_str=stored.model_text()), stored.version)

    def use_model(self, model: lgb.Booster, version: str) -> None:
        """Swapped between ticks (the daemon's retraining): one assignment, never half of a model."""
        self.model, self.model_version = model, version

    def walk_forward_copy(self, models: list[tuple[int, lgb.Booster]]) -> MLStrategy:
        """The same strategy serving `models` by period, for a backtest beside the running one."""
        copy = shallow_copy(self)  # not the constructor: a subclass may have its own signature
        copy.model, copy.model_version, copy.walk_forward = None, None, models
        return copy

    def populate_indicators(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        features = strategy_features(
            dataframe,
            self.feature_set,
            timeframe=self.timeframe,
            higher=self.higher_timeframes,
            informative=informative_for(self, metadata.get("informative") or {}),
        )
        prediction = np.full(len(dataframe), np.nan)
        usable = features.notna().all(axis=1).to_numpy()
        if self.walk_forward:  # each candle predicted by the latest model trained before it
            opened = dataframe["date"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
            starts = np.array([start for start, _ in self.walk_forward], dtype="int64")
            which = np.searchsorted(starts, opened, side="right") - 1
            for i, (_, model) in enumerate(self.walk_forward):
                rows = usable & (which == i)
                if rows.any():
                    prediction[rows] = model.predict(features[rows])
        elif self.model is not None and usable.any():
            trained_on = self.model.feature_name()
            if trained_on != list(features.columns):
                raise ValueError(
                    f"model {self.model_version} was trained on other features ({len(trained_on)}, not "
                    f"{len(features.columns)}): train and promote a model for this feature set"
                )
            prediction[usable] = self.model.predict(features[usable])
        dataframe[self.prediction_column()] = prediction
        return dataframe

    @classmethod
    def regression(cls) -> bool:
        return cls.label_kind == "regression"

    @classmethod
    def prediction_column(cls) -> str:
        return "ml_return" if cls.regression() else "ml_probability"

    @classmethod
    def entry_cut(cls) -> float:
        """The prediction above which the strategy enters (a probability, or a log return)."""
        return float(np.log1p(cls.label_threshold)) if cls.regression() else cls.entry_probability

    @classmethod
    def exit_cut(cls) -> float:
        return 0.0 if cls.regression() else cls.exit_probability

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        dataframe["enter_long"] = (dataframe[self.prediction_column()] > self.entry_cut()).astype(int)
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        dataframe["exit_long"] = (dataframe[self.prediction_column()] < self.exit_cut()).astype(int)
        return dataframe


def informative_for(strategy: MLStrategy, given: dict[str, DataFrame]) -> dict[str, DataFrame]:
    """The declared informative pairs' candles, in declared order (the model's column order)."""
    missing = [pair for pair in strategy.informative_pairs if pair not in given]
    if missing:
        raise ValueError(f"informative pair {missing[0]}: no candles (is it in exchange.pair_whitelist?)")
    return {pair: given[pair] for pair in strategy.informative_pairs}
