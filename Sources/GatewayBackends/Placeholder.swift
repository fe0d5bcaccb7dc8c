// Module GatewayBackends.
