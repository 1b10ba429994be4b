package main

import (
	"omnihub/bench"
	"omnihub/internal/scenario"
)

// propagationScenario is "omnihub bench propagation": stock changes through
// inventory, pushed by the sync engine to Taobao and Douyin simulators.
func propagationScenario() bench.Scenario { return scenario.PropagationScenario() }
