import Hummingbird
import Logging
import NIOCore
import Prometheus

/// warden-cloud's HTTP listener (Hummingbird): the managers' API under `/v1`, the dashboard at `/`, `/metrics` in
/// the Prometheus text format and `/healthz` for a load balancer.
public enum CloudHTTP {
    /// The router alone (tests drive it without a socket); `routes` lists the API's endpoints.
    public static func router(
        operations: CloudOperations,
        registry: PrometheusCollectorRegistry?,
        secureCookies: Bool = false,
        publicURL: String = "http://127.0.0.1:8080",
        logger: Logger
    ) throws -> (router: Router<APIContext>, routes: [ManagerAPI.Route]) {
        let router = Router(context: APIContext.self)
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: Authenticator(db: operations.store.client, logger: logger))
        if let registry {
            router.get("metrics") { _, _ -> Response in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(8192)
                registry.emit(into: &bytes)
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
                )
            }
        }
        router.get("healthz") { _, _ -> String in "ok\n" }
        let api = ManagerAPI(operations: operations, logger: logger, publicURL: publicURL)
        let routes = api.register(on: router)
        try Dashboard(api: api, secureCookies: secureCookies).register(on: router)
        return (router, routes)
    }

    static func application(
        _ settings: CloudConfig.HTTP,
        operations: CloudOperations,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) throws -> some ApplicationProtocol {
        // Plain HTTP on loopback (the demo, tests) cannot carry a Secure cookie; anywhere else TLS ends in front.
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(settings.host)
        return Application(
            router: try router(
                operations: operations,
                registry: registry,
                secureCookies: !loopback,
                publicURL: settings.publicURL ?? "http://\(settings.host):\(settings.port)",
                logger: logger
            ).router,
            configuration: ApplicationConfiguration(
                address: .hostname(settings.host, port: settings.port),
                serverName: "warden-cloud"
            ),
            onServerRunning: { channel in
                logger.notice(
                    "http listening",
                    metadata: [
                        "address": "\(channel.localAddress?.description ?? "?")", "paths": "/v1 /metrics /healthz",
                    ]
                )
            },
            logger: logger
        )
    }
}
