import Hummingbird
import Logging
import NIOCore
import Prometheus

/// warden-cloud's HTTP listener (Hummingbird): `/metrics` in the Prometheus text format and `/healthz` for a load
/// balancer. The managers' API joins it here.
enum CloudHTTP {
    static func application(
        _ settings: CloudConfig.HTTP,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
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
        router.get("healthz") { _, _ -> String in "ok\n" }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(settings.host, port: settings.port),
                serverName: "warden-cloud"
            ),
            onServerRunning: { channel in
                logger.notice(
                    "http listening",
                    metadata: ["address": "\(channel.localAddress?.description ?? "?")", "paths": "/metrics /healthz"]
                )
            },
            logger: logger
        )
    }
}
