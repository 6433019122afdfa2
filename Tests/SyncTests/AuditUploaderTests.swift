import Testing
import WardenSync

/// The upload window, cumulative acknowledgements and the re-send after an overdue acknowledgement, on a clock the
/// test moves.
@Suite struct AuditUploaderTests {
    @Test func sendsOnlyDurableRecordsWithinTheWindow() {
        var u = AuditUploader(acknowledged: 10, window: 2, ackTimeout: .seconds(30))
        #expect(u.nextBatch(durable: 10) == nil, "nothing new is durable")
        #expect(u.nextBatch(durable: 15) == 10)
        u.sent(first: 11, last: 13, at: .zero)
        #expect(u.nextBatch(durable: 15) == 13)
        u.sent(first: 14, last: 15, at: .zero)
        #expect(u.nextBatch(durable: 40) == nil, "window of 2 batches is full")
        do {
            let r = u.acknowledge(upTo: 13)
            #expect(r)
        }
        #expect(u.batchesInFlight == 1)
        #expect(u.nextBatch(durable: 40) == 15)
    }

    @Test func roundTripsAreTheWaitsOfTheBatchesAnAcknowledgementCompletes() {
        var u = AuditUploader(acknowledged: 0, window: 4)
        u.sent(first: 1, last: 10, at: .milliseconds(100))
        u.sent(first: 11, last: 20, at: .milliseconds(150))
        u.sent(first: 21, last: 30, at: .milliseconds(180))
        #expect(
            u.roundTrips(upTo: 20, at: .milliseconds(200)) == [.milliseconds(100), .milliseconds(50)],
            "the third batch is only partly acknowledged"
        )
        u.acknowledge(upTo: 20)
        #expect(u.roundTrips(upTo: 20, at: .milliseconds(300)).isEmpty, "a repeated acknowledgement completes nothing")
        #expect(u.roundTrips(upTo: 30, at: .milliseconds(300)) == [.milliseconds(120)])
    }

    @Test func oldOrRepeatedAcknowledgementsChangeNothing() {
        var u = AuditUploader(acknowledged: 0)
        u.sent(first: 1, last: 5, at: .zero)
        do {
            let r = u.acknowledge(upTo: 5)
            #expect(r)
        }
        do {
            let r = u.acknowledge(upTo: 5)
            #expect(!r)
        }
        do {
            let r = u.acknowledge(upTo: 3)
            #expect(!r)
        }
        #expect(u.acknowledged == 5)
    }

    @Test func anOverdueAcknowledgementResendsFromTheOldestUnacknowledgedWithDoublingWaits() {
        var u = AuditUploader(acknowledged: 100, window: 8, ackTimeout: .seconds(30), maxAckTimeout: .seconds(100))
        u.sent(first: 101, last: 200, at: .seconds(0))
        u.sent(first: 201, last: 300, at: .seconds(1))
        do {
            let r = u.checkTimeout(at: .seconds(29))
            #expect(!r)
        }
        do {
            let r = u.checkTimeout(at: .seconds(30))
            #expect(r)
        }
        #expect(u.sentUpTo == 100 && u.batchesInFlight == 0, "starts again after the last acknowledged record")
        #expect(u.timeout == .seconds(60))
        u.sent(first: 101, last: 200, at: .seconds(30))
        do {
            let r = u.checkTimeout(at: .seconds(90))
            #expect(r)
        }
        #expect(u.timeout == .seconds(100), "capped")
        do {
            // A new connection starts the wait over: the doubling was about the old one (after a hundred broker
            // restarts a board would otherwise wait minutes for an acknowledgement the new connection sends at once).
            var reconnected = u
            reconnected.restart()
            #expect(reconnected.timeout == .seconds(30) && reconnected.sentUpTo == 100)
        }
        u.sent(first: 101, last: 200, at: .seconds(90))
        do {
            let r = u.acknowledge(upTo: 200)
            #expect(r)
        }
        #expect(u.timeout == .seconds(30), "progress resets the wait")
    }

    @Test func anAcknowledgementPastWhatThisRunSentIsTaken() {
        // After a reboot the cloud may already hold more than this run has sent: the board moves on.
        var u = AuditUploader(acknowledged: 0)
        do {
            let r = u.acknowledge(upTo: 50)
            #expect(r)
        }
        #expect(u.sentUpTo == 50)
        #expect(u.nextBatch(durable: 60) == 50)
    }

    @Test func aReconnectStartsAgainFromTheAcknowledgedPosition() {
        var u = AuditUploader(acknowledged: 7)
        u.sent(first: 8, last: 9, at: .zero)
        u.restart()
        #expect(u.sentUpTo == 7 && u.batchesInFlight == 0)
    }
}
