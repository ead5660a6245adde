import XCTest
import Tasks

final class TaskErrorTests: XCTestCase {
    func testDescriptionIsTheMessageAlone() {
        let error = TaskError("line 3 is empty: give one sentence per line")
        XCTAssertEqual(String(describing: error), "line 3 is empty: give one sentence per line")
    }
}
