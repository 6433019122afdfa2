import Foundation
import Logging
import Metrics
import Mosquitto
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UnixSignals

/// warden-cloud's parts wired from a config: the database pool, the authority, an MQTT client and the operations.
/// `serve` runs them as a service group; a one-shot subcommand runs the pool just long enough for its work.
public struct CloudRuntime: Sendable {
    public let config: CloudConfig
    public let store: CloudStore
    public let authority: CloudAuthority
    public let mqtt: MQTTClient
    public let operations: CloudOperations
    public let logger: Logger

    public init(config: CloudConfig, clientSuffix: String, awaitDelivery: Bool, logger: Logger) throws(CloudError) {
        self.config = config
        self.logger = logger
        authority = try CloudAuthority.load(keyFile: config.authorityKeyFile, keyID: config.authorityKeyID)
        store = CloudStore(config.database, logger: logger)
        do {
            // Clean start and no session: a shared-subscription member that keeps a session stays in the rotation
            // while dead and its messages pile up (docs/mqtt.md section 3).
            mqtt = try MQTTClient(clientID: "cloud-\(config.instance)\(clientSuffix)", cleanStart: true)
            if let ca = config.broker.caFile {
                try mqtt.configureTLS(caFile: ca, certFile: config.broker.certFile, keyFile: config.broker.keyFile)
            }
            if let user = config.broker.username {
                try mqtt.setCredentials(username: user, password: config.broker.password)
            }
        } catch { throw CloudError(.broker, "setting up the MQTT client: \(error)") }
        var operations = CloudOperations(
            store: store,
            authority: authority,
            mqtt: mqtt,
            commandLifetime: config.commandLifetime,
            awaitDelivery: awaitDelivery,
            logger: logger
        )
        if let p = config.provisioning {
            operations.provisioner = try DeviceProvisioner(
                settings: p,
                db: store.client,
                authority: authority,
                logger: logger
            )
        }
        self.operations = operations
    }

    /// The long-running service: migrations and partitions first, then the consumer and the re-send loop, until
    /// SIGTERM or SIGINT.
    public func serve() async throws {
        // The process's metrics go to a Prometheus registry only when something can scrape them; first, so the
        // services' metric handles are made by it.
        let registry = config.http.map { _ in PrometheusCollectorRegistry() }
        if let registry { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        let consumer = CloudConsumer(
            operations: operations,
            client: mqtt,
            broker: config.broker,
            logger: logger,
            ingestWorkers: config.ingestWorkers
        )
        let resend = AccessResendService(operations: operations, interval: config.resendInterval, logger: logger)
        let prepare = PrepareService(
            store: store,
            supportBundleRetention: config.supportBundleRetention,
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: store.client),
            .init(service: prepare),
            .init(service: consumer),
            .init(service: resend),
            .init(service: WebhookService(db: store.client, logger: logger)),
            .init(service: OneTimeKeyService(operations: operations, logger: logger)),
            .init(service: RolloutService(operations: operations, logger: logger)),
        ]
        if let provisioner = operations.provisioner {
            services.append(.init(service: RevocationListService(provisioner: provisioner, logger: logger)))
        }
        if let http = config.http, let registry {
            services.append(
                .init(
                    service: try CloudHTTP.application(http, operations: operations, registry: registry, logger: logger)
                )
            )
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Runs `body` with the database pool running (and the broker connected when `broker`), then stops both.
    public func oneShot<T: Sendable>(broker: Bool, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            let client = store.client
            group.addTask {
                await client.run()
                return nil
            }
            // Lets the pool's task start before the first query: PostgresClient warns about a lease before run()
            // (harmless, but it reads like a fault to whoever runs a one-shot command).
            try? await Task.sleep(for: .milliseconds(20))
            if broker {
                do { try await mqtt.connect(host: config.broker.host, port: config.broker.port) } catch {
                    group.cancelAll()
                    throw CloudError(
                        .broker,
                        "cannot reach the broker \(config.broker.host):\(config.broker.port): \(error)"
                    )
                }
            }
            defer {
                if broker { mqtt.disconnect() }
            }
            do {
                let value = try await body()
                group.cancelAll()
                return value
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
