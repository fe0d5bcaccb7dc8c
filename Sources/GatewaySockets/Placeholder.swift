// Module GatewaySockets.
