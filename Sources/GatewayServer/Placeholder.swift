// Module GatewayServer.
