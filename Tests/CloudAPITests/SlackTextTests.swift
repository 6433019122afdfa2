import Foundation
import Testing

@testable import WardenCloud

/// What a Slack channel reads: people and doors by name, codes in words, and the ids when no name is known.
@Suite struct SlackTextTests {
    func text(_ event: String, _ payload: String) throws -> String {
        let body = WebhookService.body(id: 1, org: "acme", event: event, payload: payload, slack: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])
        return try #require(object["text"])
    }

    @Test func namesBeforeIds() throws {
        let denied = #"""
            {"type":"decision","door":"front","device":"b1","seq":3,"at":"2026-12-04T07:00:00Z",
             "kind":"access_denied","user":"u42","reason":"outside_schedule","user_name":"Rita Ruiz",
             "door_name":"Front door"}
            """#
        #expect(try text("decision", denied) == "Warden: Rita Ruiz denied at Front door (outside schedule)")
        let unnamed = #"""
            {"type":"decision","door":"front","device":"b1","seq":4,"at":"2026-12-04T07:00:00Z",
             "kind":"access_granted","user":"u42"}
            """#
        #expect(try text("decision", unnamed) == "Warden: u42 granted at front")
        let stranger = #"""
            {"type":"decision","device":"b1","seq":5,"at":"2026-12-04T07:00:00Z","kind":"access_denied",
             "reason":"unknown_credential"}
            """#
        #expect(try text("decision", stranger) == "Warden: an unknown credential denied at ? (unknown credential)")
        let offline = #"""
            {"type":"board_offline","door":"front","device":"b1","at":"2026-12-04T07:00:00Z","door_name":"Front door"}
            """#
        #expect(try text("board_offline", offline) == "Warden: board b1 at Front door went offline")
    }
}
