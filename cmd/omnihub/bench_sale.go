package main

import (
	"omnihub/bench"
	"omnihub/internal/scenario"
)

func flashSaleScenario() bench.Scenario { return scenario.FlashSaleScenario() }

func soakScenario() bench.Scenario { return scenario.SoakScenario() }
