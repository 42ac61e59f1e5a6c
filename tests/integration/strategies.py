"""Strategy files the daemon tests write into a temporary strategies folder."""


def enter_on_777(stoploss: float) -> str:
    """Enters on the candle whose volume is 777, so a test's candles say exactly when."""
    return f"""
from bot.strategy import Strategy


class EnterOn777(Strategy):
    timeframe = "5m"
    minimal_roi = {{}}
    stoploss = {stoploss}

    def populate_entry_trend(self, df, metadata):
        df.loc[df["volume"] == 777, "enter_long"] = 1
        return df
"""
