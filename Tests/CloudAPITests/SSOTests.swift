import AsyncHTTPClient
import Foundation
import HTTPTypes
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import WardenCloud

extension CloudAPISuite {
    /// Single sign-on against a real OpenID Connect provider (oidc-provider-mock from PyPI: Authlib's provider,
    /// RS256 ID tokens, registered clients with secrets, nonces required), started here on a free loopback port.
    /// The dashboard's flow is driven by hand: the provider's consent form is posted as its browser would.
    @Suite struct SSOTests {
        /// The provider as a child process; stopped when the test ends.
        final class Provider: Sendable {
            let process: Process
            let issuer: String

            init() async throws {
                let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(host: "127.0.0.1", port: 0).get()
                let port = try #require(bound.localAddress?.port)
                try await bound.close()
                issuer = "http://127.0.0.1:\(port)"
                process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = [
                    "python3", "-m", "oidc_provider_mock", "--port", "\(port)", "--require-registration", "true",
                    "--require-nonce", "true",
                ]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let deadline = ContinuousClock.now + .seconds(30)
                while (try? await Self.http(.GET, issuer + "/.well-known/openid-configuration"))?.0 != 200 {
                    guard process.isRunning, ContinuousClock.now < deadline else {
                        throw APIFixture.SetUpFailed(
                            description:
                                "oidc-provider-mock did not start (scripts/bootstrap installs it: pip install oidc-provider-mock)"
                        )
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }

            deinit {
                // SIGKILL: uvicorn's graceful stop would wait on the clients' idle keep-alive connections.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }

            /// A client registration (RFC 7591) for Warden's redirect URI: its id and secret.
            func register(redirectURI: String) async throws -> (id: String, secret: String) {
                let (status, body, _) = try await Self.http(
                    .POST,
                    issuer + "/oauth2/clients",
                    json: #"{"redirect_uris":["\#(redirectURI)"]}"#
                )
                let o = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                #expect(status == 201, "\(body)")
                return (try #require(o["client_id"] as? String), try #require(o["client_secret"] as? String))
            }

            /// The person the provider will vouch for as `sub`, with these claims.
            func user(_ sub: String, _ claims: String) async throws {
                #expect(try await Self.http(.PUT, issuer + "/users/\(sub)", json: claims).0 == 204)
            }

            /// Signs `sub` in on the provider's consent form at `authorize`: where the provider sends the browser.
            func consent(_ authorize: String, sub: String) async throws -> URLComponents {
                let (status, body, location) = try await Self.http(
                    .POST,
                    authorize,
                    form: "sub=\(sub)&action=allow"
                )
                #expect(status == 302, "\(body)")
                let to = try #require(location)
                return try #require(URLComponents(string: to))
            }

            static let client: HTTPClient = {
                var c = HTTPClient.Configuration(redirectConfiguration: .disallow)
                c.connectionPool.retryConnectionEstablishment = false
                return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
            }()

            static func http(
                _ method: HTTPMethod,
                _ url: String,
                json: String? = nil,
                form: String? = nil
            ) async throws -> (Int, String, String?) {
                var request = HTTPClientRequest(url: url)
                request.method = method
                if let json {
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: json))
                }
                if let form {
                    request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                    request.body = .bytes(ByteBuffer(string: form))
                }
                let response = try await client.execute(request, timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), String(buffer: body), response.headers.first(name: "location"))
            }
        }

        static func cookie(_ answer: APIClient.Answer, _ name: String) -> String? {
            for value in answer.headers[values: .setCookie] where value.hasPrefix(name + "=") {
                let v = value.dropFirst(name.count + 1).prefix { $0 != ";" }
                if !v.isEmpty { return String(v) }
            }
            return nil
        }

        @Test func managersSignInThroughTheirOrgsProviderAndNoOneElseDoes() async throws {
            let fx = try await APIFixture()
            let idp = try await Provider()
            let redirect = "http://127.0.0.1:8080/login/sso/callback"
            let client = try await idp.register(redirectURI: redirect)
            try await idp.user("ada-sub", #"{"email":"ada@acme.example","email_verified":true,"name":"Ada"}"#)
            try await idp.user("eve-sub", #"{"email":"eve@acme.example","email_verified":true}"#)
            try await idp.user("max-sub", #"{"email":"max@acme.example","email_verified":false}"#)
            try await idp.user("mallory-sub", #"{"email":"ada@acme.example","email_verified":true}"#)

            try await fx.run { api in
                // Configuration: admins only, bad input named, the secret never read back, tenants apart.
                let body =
                    #"{"issuer":"\#(idp.issuer)","client_id":"\#(client.id)","client_secret":"\#(client.secret)"}"#
                #expect(try await api.call(.put, "/v1/sso", as: "vic", json: body).status == .forbidden)
                #expect(try await api.call(.put, "/v1/sso", as: "ada-read", json: body).status == .forbidden)
                for (bad, field) in [
                    (#"{"issuer":"http://idp.example","client_id":"c","client_secret":"s"}"#, "issuer"),
                    (#"{"issuer":"https://idp.example/?x=1","client_id":"c","client_secret":"s"}"#, "issuer"),
                    (#"{"issuer":"https://idp.example","client_id":" ","client_secret":"s"}"#, "client_id"),
                    (#"{"issuer":"https://idp.example","client_id":"c"}"#, "client_secret"),
                ] {
                    #expect(try await api.call(.put, "/v1/sso", json: bad).field == field, "\(bad)")
                }
                #expect(try await api.get("/v1/sso").status == .notFound)
                let put = try await api.call(.put, "/v1/sso", json: body)
                #expect(put.status == .ok, "\(put.body)")
                #expect(put.object["redirect_uri"] as? String == redirect && put.object["client_secret"] == nil)
                #expect(!(try await api.get("/v1/sso").body.contains(client.secret)), "the secret is write-only")
                #expect(try await api.get("/v1/sso", as: "gus").status == .notFound, "globex has none")
                #expect(try await api.get("/v1/sso", as: "vic").status == .forbidden)
                #expect(try await api.call(.delete, "/v1/sso", as: "gus").status == .notFound)
                #expect(try await api.get("/v1/sso").status == .ok, "globex's delete touched nothing of acme's")

                /// One sign-in: the dashboard's start, the provider's consent as `sub`, the callback; the callback's
                /// answer.
                func signIn(
                    _ sub: String,
                    org: String = "acme",
                    sendBrowserCookie: Bool = true
                ) async throws -> (APIClient.Answer, callback: String, browser: String?) {
                    let start = try await api.call(.get, "/login/sso?org=\(org)", as: nil)
                    #expect(start.status == .seeOther, "\(start.body)")
                    let location = try #require(start.headers[.location])
                    let authorize = try #require(URLComponents(string: location))
                    let q = Dictionary(uniqueKeysWithValues: (authorize.queryItems ?? []).map { ($0.name, $0.value) })
                    #expect(location.hasPrefix(idp.issuer + "/oauth2/authorize"))
                    #expect(q["code_challenge_method"] == "S256" && q["nonce"] != nil && q["redirect_uri"] == redirect)
                    let browser = Self.cookie(start, "warden_sso")
                    let back = try await idp.consent(location, sub: sub)
                    #expect(back.path == "/login/sso/callback")
                    let callback = back.path + "?" + (back.percentEncodedQuery ?? "")
                    var headers: HTTPFields = [:]
                    if sendBrowserCookie, let browser { headers[.cookie] = "warden_sso=\(browser)" }
                    return (try await api.call(.get, callback, as: nil, headers: headers), callback, browser)
                }

                let (ok, callback, browser) = try await signIn("ada-sub")
                #expect(ok.status == .ok, "\(ok.body)")
                let session = try #require(Self.cookie(ok, "warden_session"), "a session cookie")
                let home = try await api.call(.get, "/", as: nil, headers: [.cookie: "warden_session=\(session)"])
                #expect(home.status == .ok && home.body.contains("ada"), "signed in as ada")
                #expect(
                    await fx.sql("SELECT sso_subject FROM users WHERE org_id = 'acme' AND id = 'ada'") == "ada-sub",
                    "linked to the provider's subject"
                )

                // The same callback again: the login in flight was used up.
                let replay = try await api.call(
                    .get,
                    callback,
                    as: nil,
                    headers: [.cookie: "warden_sso=\(browser ?? "")"]
                )
                #expect(replay.status == .badRequest && Self.cookie(replay, "warden_session") == nil)
                // Finished in a browser that did not start it (a link sent to a victim): refused.
                let (elsewhere, _, _) = try await signIn("ada-sub", sendBrowserCookie: false)
                #expect(elsewhere.status == .badRequest && elsewhere.body.contains("another browser"))
                // Someone the provider knows but Warden does not; an email the provider has not verified; a second
                // identity claiming ada's email after ada linked hers.
                for sub in ["eve-sub", "max-sub", "mallory-sub"] {
                    let (refused, _, _) = try await signIn(sub)
                    #expect(refused.status == .forbidden, "\(sub): \(refused.body)")
                    #expect(Self.cookie(refused, "warden_session") == nil, "\(sub)")
                }
                // Ada's email changes at the provider: the link by subject holds.
                try await idp.user("ada-sub", #"{"email":"ada@new-name.example","email_verified":true}"#)
                #expect(try await signIn("ada-sub").0.status == .ok)
                // An org without single sign-on, and a made-up state.
                #expect(try await api.call(.get, "/login/sso?org=globex", as: nil).status == .notFound)
                #expect(
                    try await api.call(.get, "/login/sso/callback?state=forged&code=x", as: nil).status == .badRequest
                )

                // Enforced: a site manager's right password is refused with the way in; an admin keeps hers.
                let hash = try Secrets.hashPassword("correct horse battery", logN: 10)
                _ = await fx.sql(
                    "UPDATE users SET password_hash = '\(hash)' WHERE org_id = 'acme' AND id IN ('ada', 'max')"
                )
                let enforced =
                    #"{"issuer":"\#(idp.issuer)","client_id":"\#(client.id)","enforced":true}"#
                #expect(try await api.call(.put, "/v1/sso", json: enforced).object["enforced"] as? Bool == true)
                func passwordLogin(_ email: String) async throws -> APIClient.Answer {
                    try await api.call(
                        .post,
                        "/login",
                        as: nil,
                        headers: [.contentType: "application/x-www-form-urlencoded"],
                        body: "email=\(email)&password=correct+horse+battery"
                    )
                }
                let maxLogin = try await passwordLogin("max%40acme.example")
                #expect(maxLogin.status == .forbidden && maxLogin.body.contains("single sign-on"), "\(maxLogin.body)")
                #expect(try await passwordLogin("ada%40acme.example").status == .seeOther)
                // The secret was kept when the update omitted it: sign-in still works.
                #expect(try await signIn("ada-sub").0.status == .ok)
                #expect(try await api.call(.delete, "/v1/sso").status == .noContent)
                #expect(try await passwordLogin("max%40acme.example").status == .seeOther)
            }
        }

        /// The ID token checks on tokens signed here: only this client's, this issuer's, this login's, unexpired,
        /// signed by the provider's key passes.
        @Test func idTokensThatAreNotForThisLoginAreRefused() async throws {
            let providerKey = ES256PrivateKey()
            let signer = JWTKeyCollection()
            await signer.add(ecdsa: providerKey, kid: "k1")
            let stranger = JWTKeyCollection()
            await stranger.add(ecdsa: ES256PrivateKey(), kid: "k1")
            let verifier = JWTKeyCollection()
            await verifier.add(ecdsa: providerKey.publicKey, kid: "k1")
            let config = SingleSignOn.Config(
                issuer: "https://idp.example",
                clientID: "warden",
                clientSecret: "s",
                enforced: false
            )
            func token(
                iss: String = "https://idp.example",
                aud: [String] = ["warden"],
                exp: Date = Date().addingTimeInterval(300),
                nonce: String? = "n1",
                keys: JWTKeyCollection? = nil
            ) async throws -> String {
                try await (keys ?? signer).sign(
                    OIDCIDToken(
                        issuer: .init(value: iss),
                        subject: "ada-sub",
                        audience: .init(value: aud),
                        expires: .init(value: exp),
                        issuedAt: .init(value: Date()),
                        nonce: nonce,
                        email: "ada@acme.example",
                        emailVerified: true,
                        name: "Ada"
                    ),
                    kid: "k1"
                )
            }
            var logger = Logger(label: "sso-test")
            logger.logLevel = .critical
            let good = try await SingleSignOn.check(
                try await token(),
                keys: verifier,
                config: config,
                nonce: "n1",
                logger: logger
            )
            #expect(good.subject.value == "ada-sub")
            let bad: [(String, String)] = [
                ("another issuer", try await token(iss: "https://evil.example")),
                ("another client", try await token(aud: ["other-app"])),
                ("an extra audience", try await token(aud: ["warden", "other-app"])),
                ("expired", try await token(exp: Date().addingTimeInterval(-120))),
                ("another login's nonce", try await token(nonce: "n2")),
                ("no nonce", try await token(nonce: nil)),
                ("another key", try await token(keys: stranger)),
                ("unsigned", Self.unsigned(try await token())),
            ]
            for (what, t) in bad {
                await #expect(throws: SingleSignOnError.self, "\(what)") {
                    try await SingleSignOn.check(t, keys: verifier, config: config, nonce: "n1", logger: logger)
                }
            }
        }

        /// The same claims under `alg: none` and no signature.
        static func unsigned(_ token: String) -> String {
            let parts = token.split(separator: ".")
            return Base64URLString.encode(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."
        }

        enum Base64URLString {
            static func encode(_ s: String) -> String {
                Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            }
        }
    }
}
