import Hummingbird
import Logging
import PostgresNIO

/// The outermost layer: every error leaves as `application/problem+json`. A route that does not exist is a 404
/// problem; a uniqueness race lost in the database is a 409; anything unexpected is a 500 that names the request
/// id, with the details in the server log only (a client never sees SQL or a stack).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(
        _ request: Request,
        context: APIContext,
        next: (Request, APIContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch let error as HTTPError {
            throw Problem(error.status, error.body ?? error.status.reasonPhrase)
        } catch let error as PSQLError {
            let state = error.serverInfo?[.sqlState] ?? ""
            if state == "23505" { throw Problem(.conflict, "it already exists (a concurrent request made it first)") }
            if state.hasPrefix("22") {
                throw Problem(.unprocessableContent, "a value is out of the range the database holds")
            }
            context.logger.error("request failed in the database", metadata: ["error": "\(String(reflecting: error))"])
            throw Problem(
                .internalServerError,
                "internal error (request \(context.id)); the server log has the details"
            )
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            throw Problem(
                .internalServerError,
                "internal error (request \(context.id)); the server log has the details"
            )
        }
    }
}
