import EventLog
import Testing
import TokenDomain

@testable import MerchantAPI
@testable import TokenEngine

/// The one mapping from engine errors to HTTP (``TalerError/from(_:)``).
@Suite("Taler errors")
struct TalerErrorTests {
    @Test func anUnavailableStoreIs503WithRetryAfter() {
        let error = TalerError.from(
            EngineError.storage(EventLogError.unavailable("PostgreSQL: connectionError")))
        #expect(error.status.code == 503)
        #expect(error.code == .genericDBCommitFailed)
        #expect(error.retryAfter == 1)
        #expect(error.hint == "the event log's database is unavailable; retry later")
    }

    @Test func otherStoreFailuresKeepTheCodesStatus() {
        let error = TalerError.from(EngineError.storage(EventLogError.diskFull))
        #expect(error.status.code == 500)
        #expect(error.retryAfter == nil)
        #expect(TalerError.from(EngineError.busy).status.code == 429)
    }
}
