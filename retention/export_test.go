package retention

// UntilNext exposes untilNext to the tests.
var UntilNext = untilNext
