import Foundation
import XCTest
@testable import SeqModels

/// Reference outputs of `torch.nn.utils.rnn`, written by `Tools/make_packing_fixtures.py`.
private struct TorchPackingFixture: Decodable {
    struct PackSequenceExample: Decodable {
        let sequences: [[Float]]
        let data: [Float]
        let batch_sizes: [Int]
    }
    struct AbcExample: Decodable {
        let alphabet: String
        let data: [[Float]]
        let batch_sizes: [Int]
    }
    struct PackPaddedExample: Decodable {
        let padded: [[Float]]
        let lengths: [Int]
        let data: [Float]
        let batch_sizes: [Int]
    }
    struct DocstringExamples: Decodable {
        let pack_sequence: PackSequenceExample
        let abc_x: AbcExample
        let pack_padded: PackPaddedExample
    }
    struct TieOrder: Decodable {
        let lengths: [Int]
        let sorted_indices: [Int]
        let batch_sizes: [Int]
    }
    struct RoundTrip: Decodable {
        let input_batch_first: [[[Float]]]
        let lengths: [Int]
        let data: [[Float]]
        let batch_sizes: [Int]
        let sorted_indices: [Int]
        let unsorted_indices: [Int]
        let padding_value: Float
        let total_length: Int
        let repadded_time_major: [[[Float]]]
        let repadded_lengths: [Int]
    }
    let torch_version: String
    let docstring_examples: DocstringExamples
    let tie_orders: [TieOrder]
    let round_trip: RoundTrip

    static func load() throws -> TorchPackingFixture {
        let fixtures = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: fixtures.appendingPathComponent("packing/torch_packing.json"))
        return try JSONDecoder().decode(TorchPackingFixture.self, from: data)
    }
}

final class PaddingTests: XCTestCase {
    // MARK: PyTorch's documented examples

    func testAbcAndXPackToAXBCWithBatchSizes211() throws {
        let alphabet = Array("abcx")
        func oneHot(_ word: String) -> Tensor {
            Tensor(rows: word.map { ch in alphabet.map { $0 == ch ? Float(1) : 0 } })
        }
        let packed = try packSequence([oneHot("abc"), oneHot("x")])
        XCTAssertEqual(packed.batchSizes, [2, 1, 1])
        XCTAssertNil(packed.sortedIndices)
        XCTAssertEqual(packed.data, oneHot("axbc"))
        // Same as torch's pack_sequence on the same one-hot rows.
        let torch = try TorchPackingFixture.load().docstring_examples.abc_x
        XCTAssertEqual(packed.data, Tensor(rows: torch.data))
        XCTAssertEqual(packed.batchSizes, torch.batch_sizes)
    }

    func testPackSequenceMatchesPyTorchDocstring() throws {
        let example = try TorchPackingFixture.load().docstring_examples.pack_sequence
        let sequences = example.sequences.map { Tensor(shape: [$0.count], scalars: $0) }
        let packed = try packSequence(sequences)
        XCTAssertEqual(packed.data.scalars, example.data)
        XCTAssertEqual(packed.data.shape, [6, 1])
        XCTAssertEqual(packed.batchSizes, example.batch_sizes)
        XCTAssertEqual(unpackSequence(packed).map(\.scalars), example.sequences)
    }

    func testPackPaddedSequenceMatchesPyTorchDocstring() throws {
        let example = try TorchPackingFixture.load().docstring_examples.pack_padded
        let padded = Tensor(rows: example.padded)  // [B, T], batch-first, one feature per token
        let packed = try packPaddedSequence(padded, lengths: example.lengths, batchFirst: true)
        XCTAssertEqual(packed.data.scalars, example.data)
        XCTAssertEqual(packed.batchSizes, example.batch_sizes)
        let (repadded, lengths) = try padPackedSequence(packed, batchFirst: true)
        XCTAssertEqual(repadded.shape, [2, 2, 1])
        XCTAssertEqual(repadded.scalars, [1, 2, 3, 0])
        XCTAssertEqual(lengths, example.lengths)
    }

    // MARK: Agreement with torch on sorting and ties

    func testUnsortedBatchFirstPackAndPadMatchPyTorch() throws {
        let reference = try TorchPackingFixture.load().round_trip
        let batch = reference.input_batch_first.count, steps = reference.input_batch_first[0].count
        let input = Tensor(shape: [batch, steps, reference.input_batch_first[0][0].count],
                           scalars: reference.input_batch_first.flatMap { $0.flatMap { $0 } })
        let packed = try packPaddedSequence(input, lengths: reference.lengths, batchFirst: true, enforceSorted: false)
        XCTAssertEqual(packed.data, Tensor(rows: reference.data))
        XCTAssertEqual(packed.batchSizes, reference.batch_sizes)
        XCTAssertEqual(packed.sortedIndices, reference.sorted_indices)
        XCTAssertEqual(packed.unsortedIndices, reference.unsorted_indices)

        let (padded, lengths) = try padPackedSequence(packed, paddingValue: reference.padding_value,
                                                      totalLength: reference.total_length)
        XCTAssertEqual(padded.shape, [reference.total_length, batch, packed.featureCount])
        XCTAssertEqual(padded.scalars, reference.repadded_time_major.flatMap { $0.flatMap { $0 } })
        XCTAssertEqual(lengths, reference.repadded_lengths)
    }

    func testTieOrderMatchesPyTorch() throws {
        let fixture = try TorchPackingFixture.load()
        XCTAssertEqual(fixture.torch_version.prefix(4), "2.13")
        var sawUnstableOrder = false
        for case_ in fixture.tie_orders {
            let lengths = case_.lengths
            let layout = try PackingLayout(lengths: lengths)
            XCTAssertEqual(layout.sortedIndices, case_.sorted_indices, "lengths \(lengths)")
            XCTAssertEqual(layout.batchSizes, case_.batch_sizes, "lengths \(lengths)")
            // The same through the tensor API.
            let padded = Tensor(shape: [lengths.max()!, lengths.count, 1])
            let packed = try packPaddedSequence(padded, lengths: lengths, enforceSorted: false)
            XCTAssertEqual(packed.sortedIndices, case_.sorted_indices)
            let stable = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
            if stable != case_.sorted_indices { sawUnstableOrder = true }
            if lengths.count <= 16 { XCTAssertEqual(stable, case_.sorted_indices, "torch is stable up to 16") }
        }
        // The fixture really exercises the non-stable order (otherwise a stable sort would pass too).
        XCTAssertTrue(sawUnstableOrder)
    }

    // MARK: Round trips

    func testPackThenPadRestoresRandomUnevenBatches() throws {
        var generator = SeededGenerator(seed: 7)
        for batchFirst in [false, true] {
            for sorted in [false, true] {
                for _ in 0..<5 {
                    let batch = 1 + generator.nextInt(below: 12), steps = 1 + generator.nextInt(below: 9)
                    let features = 1 + generator.nextInt(below: 4)
                    var lengths = (0..<batch).map { _ in 1 + generator.nextInt(below: steps) }
                    if sorted { lengths.sort(by: >) }
                    // Padding positions hold garbage: packing must ignore them.
                    let input = Tensor.uniform(batchFirst ? [batch, steps, features] : [steps, batch, features],
                                               low: -1, high: 1, using: &generator)
                    let packed = try packPaddedSequence(input, lengths: lengths, batchFirst: batchFirst, enforceSorted: sorted)
                    XCTAssertEqual(packed.rowCount, lengths.reduce(0, +))
                    XCTAssertEqual(packed.sortedIndices == nil, sorted)
                    XCTAssertEqual(packed.lengths, lengths)

                    let (padded, outLengths) = try padPackedSequence(packed, batchFirst: batchFirst, paddingValue: 9,
                                                                     totalLength: steps + 1)
                    XCTAssertEqual(outLengths, lengths)
                    XCTAssertEqual(padded.shape, batchFirst ? [batch, steps + 1, features] : [steps + 1, batch, features])
                    for b in 0..<batch {
                        for t in 0...steps {
                            for f in 0..<features {
                                let out = batchFirst ? padded[b, t, f] : padded[t, b, f]
                                if t < lengths[b] {
                                    XCTAssertEqual(out, batchFirst ? input[b, t, f] : input[t, b, f])
                                } else {
                                    XCTAssertEqual(out, 9)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func testPadSequenceThenPackEqualsPackSequence() throws {
        var generator = SeededGenerator(seed: 11)
        let lengths = [3, 6, 1, 6, 4]
        let sequences = lengths.map { Tensor.uniform([$0, 2], low: -1, high: 1, using: &generator) }
        for batchFirst in [false, true] {
            let padded = padSequence(sequences, batchFirst: batchFirst, paddingValue: -5)
            XCTAssertEqual(padded.shape, batchFirst ? [5, 6, 2] : [6, 5, 2])
            XCTAssertEqual(batchFirst ? padded[2, 1, 0] : padded[1, 2, 0], -5)
            XCTAssertEqual(batchFirst ? padded[1, 5, 1] : padded[5, 1, 1], sequences[1][5, 1])
            let fromPadded = try packPaddedSequence(padded, lengths: lengths, batchFirst: batchFirst, enforceSorted: false)
            XCTAssertEqual(fromPadded, try packSequence(sequences, enforceSorted: false))
        }
        let unpacked = unpackSequence(try packSequence(sequences, enforceSorted: false))
        XCTAssertEqual(unpacked, sequences)
        for batchFirst in [false, true] {
            let padded = padSequence(sequences, batchFirst: batchFirst)
            XCTAssertEqual(try unpadSequence(padded, lengths: lengths, batchFirst: batchFirst), sequences)
        }
        XCTAssertThrowsError(try unpadSequence(padSequence(sequences), lengths: [3, 7, 1, 6, 4])) {
            XCTAssertEqual($0 as? PackingError, .lengthExceedsSteps(index: 1, length: 7, steps: 6))
        }
    }

    func testPadSequenceAcceptsEmptySequencesAndScalarTokens() {
        let padded = padSequence([Tensor(shape: [2], scalars: [1, 2]), Tensor(shape: [0])], batchFirst: true, paddingValue: -1)
        XCTAssertEqual(padded.shape, [2, 2])
        XCTAssertEqual(padded.scalars, [1, 2, -1, -1])
    }

    // MARK: Errors

    func testEnforceSortedRejectsIncreasingLengths() throws {
        let input = Tensor(shape: [4, 3, 1])
        XCTAssertThrowsError(try packPaddedSequence(input, lengths: [2, 4, 1])) { error in
            XCTAssertEqual(error as? PackingError, .notSortedByDecreasingLength(index: 1, length: 4, previousLength: 2))
            XCTAssertTrue("\(error)".contains("decreasing order when enforceSorted is true"), "\(error)")
            XCTAssertTrue("\(error)".contains("enforceSorted: false"), "\(error)")
        }
        XCTAssertThrowsError(try packSequence([Tensor(shape: [1, 1]), Tensor(shape: [2, 1])])) { error in
            XCTAssertEqual(error as? PackingError, .notSortedByDecreasingLength(index: 1, length: 2, previousLength: 1))
        }
        // Equal lengths are sorted; the same lengths unsorted are accepted without enforceSorted.
        XCTAssertNoThrow(try packPaddedSequence(input, lengths: [3, 3, 1]))
        XCTAssertEqual(try packPaddedSequence(input, lengths: [2, 4, 1], enforceSorted: false).sortedIndices, [1, 0, 2])
    }

    func testInvalidLengthsThrowClearErrors() {
        let input = Tensor(shape: [4, 2, 3])  // T = 4, B = 2
        func error(_ body: () throws -> Any) -> PackingError? {
            do { _ = try body(); return nil } catch { return error as? PackingError }
        }
        XCTAssertEqual(error { try packPaddedSequence(input, lengths: [2, 0]) }, .nonPositiveLength(index: 1, length: 0))
        XCTAssertEqual(error { try packPaddedSequence(input, lengths: [-1, 2], enforceSorted: false) },
                       .nonPositiveLength(index: 0, length: -1))
        XCTAssertEqual(error { try packPaddedSequence(input, lengths: [5, 2]) }, .lengthExceedsSteps(index: 0, length: 5, steps: 4))
        XCTAssertEqual(error { try packPaddedSequence(input, lengths: [3, 2, 1]) }, .lengthCountMismatch(lengthCount: 3, batchSize: 2))
        XCTAssertEqual(error { try packSequence([]) }, .emptyBatch)
        XCTAssertEqual(error { try packSequence([Tensor(shape: [2, 3]), Tensor(shape: [0, 3])]) }, .nonPositiveLength(index: 1, length: 0))
        XCTAssertEqual(error { try PackingLayout(lengths: []) }, .emptyBatch)

        let packed = try? packPaddedSequence(input, lengths: [4, 2])
        XCTAssertEqual(error { try padPackedSequence(packed!, totalLength: 3) }, .totalLengthTooShort(totalLength: 3, longestLength: 4))

        let messages = [
            PackingError.nonPositiveLength(index: 1, length: 0),
            .lengthExceedsSteps(index: 0, length: 5, steps: 4),
            .lengthCountMismatch(lengthCount: 3, batchSize: 2),
            .totalLengthTooShort(totalLength: 3, longestLength: 4),
        ].map(\.description)
        XCTAssertEqual(messages, [
            "every sequence must have a length greater than 0, but sequence 1 has length 0",
            "sequence 0 has length 5, but the padded input has only 4 time steps",
            "expected one length per sequence, but got 3 lengths for a batch of 2",
            "totalLength must be at least the length of the longest sequence, but got totalLength 3 and a longest sequence of 4",
        ])
    }

    // MARK: PackingLayout

    func testPackingLayoutRowsAgreeWithPackPaddedSequence() throws {
        var generator = SeededGenerator(seed: 3)
        for enforceSorted in [false, true] {
            var lengths = (0..<23).map { _ in 1 + generator.nextInt(below: 7) }
            if enforceSorted { lengths.sort(by: >) }
            let batch = lengths.count, steps = 7
            // Each padded cell holds 100 * sequence + step, so a packed row names its origin.
            var input = Tensor(shape: [steps, batch, 1])
            for t in 0..<steps { for b in 0..<batch { input[t, b, 0] = Float(100 * b + t) } }
            let packed = try packPaddedSequence(input, lengths: lengths, enforceSorted: enforceSorted)
            let layout = try PackingLayout(lengths: lengths, enforceSorted: enforceSorted)

            XCTAssertEqual(layout.batchSizes, packed.batchSizes)
            XCTAssertEqual(layout.sortedIndices, packed.sortedIndices)
            XCTAssertEqual(layout.unsortedIndices, packed.unsortedIndices)
            XCTAssertEqual(layout.stepOffsets, packed.stepOffsets)
            XCTAssertEqual(PackingLayout(packed), layout)
            XCTAssertEqual(packed.layout.lengths, lengths)
            for s in 0..<batch {
                for t in 0..<lengths[s] {
                    XCTAssertEqual(packed.data[layout.row(sequence: s, step: t), 0], Float(100 * s + t))
                }
            }
            // pack() of per-token values (token ids, targets) puts them in the same rows.
            let ids = lengths.indices.map { s in (0..<lengths[s]).map { 100 * s + $0 } }
            let packedIDs = layout.pack(ids)
            XCTAssertEqual(packedIDs.map(Float.init), packed.data.scalars)
            XCTAssertEqual(layout.rowSequences, packedIDs.map { $0 / 100 })
            XCTAssertEqual(layout.unpack(packedIDs), ids)
            // A tensor of per-row values wraps into the same PackedSequence.
            XCTAssertEqual(layout.packedSequence(data: packed.data), packed)
        }
    }

    func testPackingLayoutPacksStringsAndTensors() throws {
        let words = [["the", "cat"], ["a", "big", "dog"], ["hi"]]
        let layout = try PackingLayout(sequences: words)
        XCTAssertEqual(layout.sortedIndices, [1, 0, 2])
        XCTAssertEqual(layout.batchSizes, [3, 2, 1])
        XCTAssertEqual(layout.pack(words), ["a", "the", "hi", "big", "cat", "dog"])
        XCTAssertEqual(layout.unpack(layout.pack(words)), words)
        XCTAssertEqual(layout.row(sequence: 0, step: 1), 4)

        let rows = words.map { w in Tensor(shape: [w.count, 1], scalars: w.map { Float($0.count) }) }
        let packed = layout.pack(rows)
        XCTAssertEqual(packed.data.scalars, [1, 3, 2, 3, 3, 3])
        XCTAssertEqual(packed, try packSequence(rows, enforceSorted: false))
    }

    // MARK: Masks

    func testMasksMarkRealTokens() throws {
        let lengths = [3, 1, 0, 2]
        let batchFirst = try sequenceMask(lengths: lengths)
        XCTAssertEqual(batchFirst.shape, [4, 3])
        XCTAssertEqual(batchFirst.scalars, [1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0])
        let timeMajor = try sequenceMask(lengths: lengths, maxLength: 4, batchFirst: false)
        XCTAssertEqual(timeMajor.shape, [4, 4])
        XCTAssertEqual(timeMajor.scalars, [1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try sequenceMaskBool(lengths: lengths),
                       [[true, true, true], [true, false, false], [false, false, false], [true, true, false]])
        XCTAssertEqual(try sequenceMaskBool(lengths: lengths, maxLength: 4, batchFirst: false).flatMap { $0 },
                       timeMajor.scalars.map { $0 == 1 })
        // The mask of a padded batch is 1 exactly where padPackedSequence put real rows.
        let packed = try packSequence([Tensor(shape: [3, 1], repeating: 2), Tensor(shape: [1, 1], repeating: 2)])
        let (padded, _) = try padPackedSequence(packed, batchFirst: true)
        XCTAssertEqual(padded.scalars.map { $0 / 2 }, try sequenceMask(lengths: [3, 1]).scalars)

        XCTAssertThrowsError(try sequenceMask(lengths: [2, -1])) {
            XCTAssertEqual($0 as? PackingError, .negativeLength(index: 1, length: -1))
        }
        XCTAssertThrowsError(try sequenceMaskBool(lengths: [5], maxLength: 4)) {
            XCTAssertEqual($0 as? PackingError, .lengthExceedsSteps(index: 0, length: 5, steps: 4))
        }
    }

    // MARK: Speed in debug builds

    func testPackingALargeBatchIsFastInDebug() throws {
        var generator = SeededGenerator(seed: 5)
        let batch = 64, steps = 100, features = 128
        let lengths = (0..<batch).map { _ in 1 + generator.nextInt(below: steps) }
        let input = Tensor.uniform([batch, steps, features], low: -1, high: 1, using: &generator)
        let start = Date()
        let packed = try packPaddedSequence(input, lengths: lengths, batchFirst: true, enforceSorted: false)
        let (padded, _) = try padPackedSequence(packed, batchFirst: true)
        let layout = packed.layout
        let ids = layout.pack(lengths.map { [Int](repeating: 1, count: $0) })
        let elapsed = Date().timeIntervalSince(start)
        print("debug: pack + pad + pack ids of \(packed.rowCount) rows × \(features) features: \(elapsed * 1000) ms")
        XCTAssertEqual(ids.count, packed.rowCount)
        XCTAssertEqual(padded.shape[0], batch)
        XCTAssertLessThan(elapsed, 0.5, "packing \(packed.rowCount) rows of \(features) took \(elapsed) s")
    }
}
