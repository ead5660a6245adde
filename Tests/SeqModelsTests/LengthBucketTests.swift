import XCTest
@testable import SeqModels

final class LengthBucketTests: XCTestCase {
    private func randomLengths(_ count: Int, in range: ClosedRange<Int>, seed: UInt64) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in range.lowerBound + generator.nextInt(below: range.count) }
    }

    func testEveryIndexAppearsExactlyOnce() throws {
        let lengths = randomLengths(1000, in: 1...60, seed: 1)
        for maxTokens in [nil, 300, 1] as [Int?] {
            let batches = try LengthBucketBatcher(lengths: lengths, maxSequences: 32, maxTokens: maxTokens).batches(seed: 9)
            XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<1000), "maxTokens \(String(describing: maxTokens))")
            XCTAssertFalse(batches.contains { $0.isEmpty })
        }
        XCTAssertEqual(try LengthBucketBatcher(lengths: [], maxSequences: 4).batches(seed: 1), [])
    }

    func testBatchesRespectSequenceAndTokenLimits() throws {
        let lengths = randomLengths(800, in: 5...50, seed: 2)
        let batcher = try LengthBucketBatcher(lengths: lengths, maxSequences: 16, maxTokens: 400)
        let batches = batcher.batches(seed: 4)
        for batch in batches {
            let longest = batch.map { lengths[$0] }.max()!
            XCTAssertLessThanOrEqual(batch.count, 16)
            XCTAssertLessThanOrEqual(batch.count * longest, 400)
        }
        // The token limit binds: long sequences come in smaller batches than short ones.
        let longBatch = batches.first { lengths[$0[0]] > 40 }!, shortBatch = batches.first { lengths[$0[0]] < 20 }!
        XCTAssertLessThan(longBatch.count, shortBatch.count)
        // A sequence longer than maxTokens still gets a batch of its own.
        let alone = try LengthBucketBatcher(lengths: [10, 3, 3], maxSequences: 8, maxTokens: 6).batches(seed: 1)
        XCTAssertEqual(alone.count, 2)
        XCTAssertTrue(alone.contains([0]))
        XCTAssertEqual(alone.first { $0 != [0] }.map(Set.init), [1, 2])
    }

    func testBatchesAreInDecreasingLengthSoTheyPackWithoutSorting() throws {
        let lengths = randomLengths(300, in: 1...30, seed: 3)
        for batch in try LengthBucketBatcher(lengths: lengths, maxSequences: 20).batches(seed: 5) {
            let batchLengths = batch.map { lengths[$0] }
            let layout = try PackingLayout(lengths: batchLengths, enforceSorted: true)
            XCTAssertNil(layout.sortedIndices)
            // Similar lengths: within a bucket of 20 out of 300, the spread is small.
            XCTAssertLessThanOrEqual(batchLengths.first! - batchLengths.last!, 3)
        }
    }

    func testSameSeedGivesSameBatchesAndOtherSeedsAnotherOrder() throws {
        let lengths = randomLengths(500, in: 5...50, seed: 4)
        let batcher = try LengthBucketBatcher(lengths: lengths, maxSequences: 25)
        XCTAssertEqual(batcher.batches(seed: 42), batcher.batches(seed: 42))
        var generator = SeededGenerator(seed: 42)
        XCTAssertEqual(batcher.batches(using: &generator), batcher.batches(seed: 42))
        // Consecutive epochs from one generator differ, and so do other seeds.
        XCTAssertNotEqual(batcher.batches(using: &generator), batcher.batches(seed: 42))
        let a = batcher.batches(seed: 42), b = batcher.batches(seed: 43)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(a.map { $0[0] }, b.map { $0[0] }, "the batch order depends on the seed")
    }

    func testEqualLengthsAreShuffledAcrossSeeds() throws {
        // All lengths equal: the batch composition comes only from the tie shuffle.
        let batcher = try LengthBucketBatcher(lengths: [Int](repeating: 7, count: 40), maxSequences: 10)
        let a = batcher.batches(seed: 1), b = batcher.batches(seed: 2)
        XCTAssertNotEqual(Set(a.map { Set($0) }), Set(b.map { Set($0) }))
        XCTAssertNotEqual(a.flatMap { $0 }, Array(0..<40))
    }

    func testPaddingRatioIsCloseToOneOnRandomLengths() throws {
        let lengths = randomLengths(2000, in: 5...50, seed: 6)
        let batcher = try LengthBucketBatcher(lengths: lengths, maxSequences: 32)
        let bucketed = LengthBucketBatcher.paddingRatio(of: batcher.batches(seed: 1), lengths: lengths)
        // Baseline: the same batch size over a random permutation.
        var generator = SeededGenerator(seed: 1)
        var shuffled = Array(lengths.indices)
        generator.shuffle(&shuffled)
        let random = stride(from: 0, to: shuffled.count, by: 32).map { Array(shuffled[$0..<min($0 + 32, shuffled.count)]) }
        let baseline = LengthBucketBatcher.paddingRatio(of: random, lengths: lengths)
        print("padding ratio, 2000 lengths in [5, 50], 32 per batch: bucketed \(bucketed), random \(baseline)")
        XCTAssertGreaterThanOrEqual(bucketed, 1)
        XCTAssertLessThan(bucketed, 1.02)
        XCTAssertGreaterThan(baseline, 1.5)
        XCTAssertEqual(LengthBucketBatcher.paddingRatio(of: [[0, 1]], lengths: [4, 2]), 8.0 / 6.0)
    }

    func testInvalidSettingsThrowClearErrors() {
        XCTAssertThrowsError(try LengthBucketBatcher(lengths: [3], maxSequences: 0)) {
            XCTAssertEqual($0 as? PackingError, .nonPositiveLimit(name: "maxSequences", value: 0))
            XCTAssertEqual("\($0)", "maxSequences must be positive, but got 0")
        }
        XCTAssertThrowsError(try LengthBucketBatcher(lengths: [3], maxSequences: 2, maxTokens: -5)) {
            XCTAssertEqual($0 as? PackingError, .nonPositiveLimit(name: "maxTokens", value: -5))
        }
        XCTAssertThrowsError(try LengthBucketBatcher(lengths: [3, 0], maxSequences: 2)) {
            XCTAssertEqual($0 as? PackingError, .nonPositiveLength(index: 1, length: 0))
        }
    }
}
