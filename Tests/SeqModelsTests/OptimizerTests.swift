import Foundation
import XCTest
@testable import SeqModels

/// Two parameters named like the fixture's PyTorch ones.
private struct TwoParameters: ParameterContainer, Equatable {
    var weight: Parameter
    var bias: Parameter
    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try visit(prefix + "a.weight", &weight)
        try visit(prefix + "b.bias", &bias)
    }
}

final class OptimizerTests: XCTestCase {
    private func fixture() throws -> [String: Any] {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("test fixtures are not bundled")
        }
        let data = try Data(contentsOf: root.appendingPathComponent("optimizers/optimizers.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func floats(_ any: Any?) -> [Float] { (any as? [Double] ?? (any as? [NSNumber])?.map(\.doubleValue) ?? []).map(Float.init) }

    private func makeOptimizer(_ kind: String, _ o: [String: Any]) -> any Optimizer {
        func d(_ key: String, _ fallback: Double) -> Double { (o[key] as? NSNumber)?.doubleValue ?? fallback }
        func b(_ key: String) -> Bool { (o[key] as? Bool) ?? false }
        let lr = Float(d("lr", 0))
        switch kind {
        case "sgd":
            return SGD(learningRate: lr, momentum: d("momentum", 0), dampening: d("dampening", 0),
                       weightDecay: d("weight_decay", 0), nesterov: b("nesterov"))
        case "adam", "adamw":
            let betas = (o["betas"] as? [NSNumber])?.map(\.doubleValue) ?? [0.9, 0.999]
            if kind == "adamw" {
                return Adam.adamW(learningRate: lr, beta1: betas[0], beta2: betas[1], epsilon: d("eps", 1e-8),
                                  weightDecay: d("weight_decay", 1e-2))
            }
            return Adam(learningRate: lr, beta1: betas[0], beta2: betas[1], epsilon: d("eps", 1e-8),
                        weightDecay: d("weight_decay", 0))
        case "rmsprop":
            return RMSProp(learningRate: lr, alpha: d("alpha", 0.99), epsilon: d("eps", 1e-8),
                           weightDecay: d("weight_decay", 0), momentum: d("momentum", 0), centered: b("centered"))
        default:
            fatalError("unknown optimizer \(kind) in the fixture")
        }
    }

    private func model(_ values: [String: Any], shapes: [String: Any]) -> TwoParameters {
        func tensor(_ name: String) -> Tensor {
            Tensor(shape: (shapes[name] as? [Int]) ?? [], scalars: floats(values[name]))
        }
        return TwoParameters(weight: Parameter(tensor("a.weight")), bias: Parameter(tensor("b.bias")))
    }

    private func setGradients(_ m: inout TwoParameters, _ step: [String: Any], shapes: [String: Any]) {
        let g = model(step, shapes: shapes)
        m.weight.gradient = g.weight.value
        m.bias.gradient = g.bias.value
    }

    /// Largest |ours − torch| / max(|torch|, 0.1) over both parameters: relative for values of
    /// the parameters' own scale (they start N(0, 1)), absolute (1e-7 at tolerance 1e-6) for
    /// values that an update has cancelled down near zero, where one float ulp of the O(1)
    /// operands (an FMA here and not there) is already a large relative difference.
    private func relativeError(_ m: TwoParameters, _ expected: TwoParameters) -> Double {
        var worst = 0.0
        for (ours, theirs) in [(m.weight.value, expected.weight.value), (m.bias.value, expected.bias.value)] {
            for i in 0..<ours.count {
                let e = Double(theirs[flat: i])
                worst = max(worst, abs(Double(ours[flat: i]) - e) / max(abs(e), 0.1))
            }
        }
        return worst
    }

    func testTrajectoriesMatchPyTorch() throws {
        let f = try XCTUnwrap(try fixture()["trajectories"] as? [String: Any])
        let shapes = try XCTUnwrap(f["shapes"] as? [String: Any])
        let initial = try XCTUnwrap(f["initial"] as? [String: Any])
        let gradients = try XCTUnwrap(f["gradients"] as? [[String: Any]])
        let runs = try XCTUnwrap(f["runs"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(runs.count, 12)
        for run in runs {
            let kind = try XCTUnwrap(run["optimizer"] as? String)
            let options = try XCTUnwrap(run["options"] as? [String: Any])
            let history = try XCTUnwrap(run["parameters"] as? [[String: Any]])
            var optimizer = makeOptimizer(kind, options)
            var m = model(initial, shapes: shapes)
            var worst = 0.0
            for (step, expected) in zip(gradients, history) {
                setGradients(&m, step, shapes: shapes)
                optimizer.step(&m)
                worst = max(worst, relativeError(m, model(expected, shapes: shapes)))
            }
            XCTAssertLessThan(worst, 1e-6, "\(kind) \(options): worst relative error \(worst) over \(history.count) steps")
        }
    }

    func testClippingMatchesPyTorch() throws {
        let f = try XCTUnwrap(try fixture()["clipping"] as? [String: Any])
        let shapes = try XCTUnwrap(f["shapes"] as? [[Int]])
        let gradients = try XCTUnwrap(f["gradients"] as? [Any]).map(floats)
        let cases = try XCTUnwrap(f["cases"] as? [[String: Any]])
        var sawClipped = false, sawUnclipped = false
        for c in cases {
            let maxNorm = Float(try XCTUnwrap(c["maxNorm"] as? NSNumber).doubleValue)
            var layers = ParameterList(parameters: zip(shapes, gradients).map { shape, g in
                var p = Parameter(Tensor(shape: shape))
                p.gradient = Tensor(shape: shape, scalars: g)
                return p
            })
            let norm = clipGradientNorm(&layers, maxNorm: maxNorm)
            let torchNorm = Float(try XCTUnwrap(c["norm"] as? NSNumber).doubleValue)
            XCTAssertEqual(norm, torchNorm, accuracy: 1e-6 * torchNorm)
            let clipped = try XCTUnwrap(c["clipped"] as? [Any]).map(floats)
            for (p, expected) in zip(layers.parameters, clipped) {
                for (a, e) in zip(p.gradient.scalars, expected) {
                    XCTAssertEqual(a, e, accuracy: 1e-6 * max(abs(e), 1e-3))
                }
            }
            if norm > maxNorm { sawClipped = true } else { sawUnclipped = true }
            if norm <= maxNorm { XCTAssertEqual(layers.parameters.map(\.gradient.scalars), gradients, "unclipped gradients are untouched") }
        }
        XCTAssertTrue(sawClipped && sawUnclipped, "the fixture covers both cases")
    }

    func testClippingIgnoresFrozenParameters() {
        var frozen = Parameter(Tensor(shape: [2]), isTrainable: false)
        frozen.gradient = Tensor(shape: [2], scalars: [100, 100])  // would dominate the norm
        var live = Parameter(Tensor(shape: [2]))
        live.gradient = Tensor(shape: [2], scalars: [3, 4])
        var list = ParameterList(parameters: [frozen, live])
        XCTAssertEqual(clipGradientNorm(&list, maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(list.parameters[0].gradient.scalars, [100, 100])
        XCTAssertEqual(list.parameters[1].gradient[0], 0.6, accuracy: 1e-6)
    }

    func testStepLRCosineAnnealingAndReduceLROnPlateauMatchPyTorch() throws {
        let f = try XCTUnwrap(try fixture()["schedules"] as? [String: Any])
        let step = try XCTUnwrap(f["stepLR"] as? [String: Any])
        let rates = floats(step["rates"])
        var decay = StepDecay(initialLearningRate: 0.1, stepSize: try XCTUnwrap(step["stepSize"] as? Int), gamma: 0.5)
        var ours = [decay.learningRate]
        for _ in 1..<rates.count { ours.append(decay.epochEnded(metric: 0)) }
        XCTAssertEqual(ours, rates)

        let cosine = try XCTUnwrap(f["cosine"] as? [String: Any])
        let cosineRates = floats(cosine["rates"])
        let epochs = try XCTUnwrap(cosine["epochs"] as? Int)
        var annealing = CosineAnnealing(initialLearningRate: 0.1, epochs: epochs, minimumLearningRate: 0.002)
        var annealed = [annealing.learningRate]
        for e in 1..<(cosineRates.count + 3) {
            annealed.append(annealing.epochEnded(metric: 0))
            if e == 3 { annealing = try JSONDecoder().decode(CosineAnnealing.self, from: JSONEncoder().encode(annealing)) }
        }
        for (a, e) in zip(annealed, cosineRates) { XCTAssertEqual(a, e, accuracy: 1e-6 * e) }
        XCTAssertEqual(Array(annealed.suffix(3)), [0.002, 0.002, 0.002], "held at the minimum after the last epoch")

        for c in try XCTUnwrap(f["plateau"] as? [[String: Any]]) {
            func d(_ k: String) -> Double { (c[k] as? NSNumber)?.doubleValue ?? .nan }
            var schedule = ReduceOnPlateau(
                initialLearningRate: Float(d("initial")), mode: c["mode"] as? String == "max" ? .max : .min,
                factor: d("factor"), patience: c["patience"] as? Int ?? -1, threshold: d("threshold"),
                thresholdMode: c["thresholdMode"] as? String == "abs" ? .absolute : .relative,
                cooldown: c["cooldown"] as? Int ?? -1, minimumLearningRate: d("minLR"))
            let metrics = try XCTUnwrap(c["metrics"] as? [NSNumber]).map(\.doubleValue)
            let expected = floats(c["rates"])
            var got: [Float] = []
            for (i, m) in metrics.enumerated() {
                got.append(schedule.epochEnded(metric: m))
                if i == metrics.count / 2 {  // a resumed schedule continues the same sequence
                    schedule = try JSONDecoder().decode(ReduceOnPlateau.self, from: JSONEncoder().encode(schedule))
                }
            }
            XCTAssertEqual(got.count, expected.count)
            for (a, e) in zip(got, expected) { XCTAssertEqual(a, e, accuracy: 1e-6 * e, "\(c)") }
        }
    }

    /// With a time budget the cosine follows whichever runs ahead, epochs or time, never back up;
    /// a saved schedule keeps its progress, and one saved before budgets existed reads as e / epochs.
    func testCosineFollowsATimeBudgetThatRunsAheadOfItsEpochs() throws {
        let (initial, minimum) = (Double(Float(0.1)), Double(Float(0.002)))   // the rates are tracked in Double from Float
        func rate(_ progress: Double) -> Float { Float(minimum + (initial - minimum) * (1 + cos(Double.pi * progress)) / 2) }
        var annealing = CosineAnnealing(initialLearningRate: 0.1, epochs: 10, minimumLearningRate: 0.002)
        XCTAssertEqual(annealing.epochEnded(metric: 0, budgetUsed: 0.25), rate(0.25), "time ahead of 1 epoch of 10")
        XCTAssertEqual(annealing.epochEnded(metric: 0, budgetUsed: 0.05), rate(0.25), "a smaller share never raises the rate")
        XCTAssertEqual(annealing.epochEnded(metric: 0, budgetUsed: nil), rate(0.3), "epochs ahead of time: 3 of 10")
        XCTAssertEqual(annealing.epochEnded(metric: 0, budgetUsed: 0.6), rate(0.6))
        let saved = try JSONEncoder().encode(annealing)
        var restored = try JSONDecoder().decode(CosineAnnealing.self, from: saved)
        XCTAssertEqual(restored, annealing)
        XCTAssertEqual(restored.epochEnded(metric: 0, budgetUsed: 0.1), rate(0.6), "the progress survives a resume")
        XCTAssertEqual(annealing.epochEnded(metric: 0, budgetUsed: 1.7), 0.002, "a spent budget holds the minimum")
        XCTAssertEqual(annealing.progress, 1)

        var old = try XCTUnwrap(JSONSerialization.jsonObject(with: saved) as? [String: Any])
        old["progress"] = nil
        let older = try JSONDecoder().decode(CosineAnnealing.self, from: JSONSerialization.data(withJSONObject: old))
        XCTAssertEqual(older.progress, 0.4, "4 epochs of 10, as before time budgets")
        for (key, value) in [("progress", 1.5 as Any), ("epochs", 0 as Any)] {
            var bad = try XCTUnwrap(JSONSerialization.jsonObject(with: saved) as? [String: Any])
            bad[key] = value
            XCTAssertThrowsError(try JSONDecoder().decode(CosineAnnealing.self, from: JSONSerialization.data(withJSONObject: bad)), key)
        }
    }

    func testConstantScheduleNeverChanges() {
        var s = ConstantLearningRate(0.25)
        XCTAssertEqual((0..<5).map { s.epochEnded(metric: Double($0)) }, [0.25, 0.25, 0.25, 0.25, 0.25])
    }

    /// Runs `steps` steps with gradients from a seeded generator, optionally saving and
    /// restoring the optimizer through JSON after `resumeAfter` steps.
    private func run<O: Optimizer>(_ optimizer: O, steps: Int, resumeAfter: Int?) throws -> TwoParameters {
        var g = SeededGenerator(seed: 77)
        var m = TwoParameters(weight: Parameter(.normal([3, 4], using: &g)), bias: Parameter(.normal([5], using: &g)))
        var o = optimizer
        for i in 0..<steps {
            m.weight.gradient = .normal([3, 4], using: &g)
            m.bias.gradient = .normal([5], using: &g)
            o.step(&m)
            if i + 1 == resumeAfter { o = try JSONDecoder().decode(O.self, from: JSONEncoder().encode(o)) }
        }
        return m
    }

    func testSavedOptimizerStateResumesBitIdentically() throws {
        let adam = try run(Adam(learningRate: 0.01, weightDecay: 0.1), steps: 6, resumeAfter: nil)
        XCTAssertEqual(try run(Adam(learningRate: 0.01, weightDecay: 0.1), steps: 6, resumeAfter: 3), adam)
        let rms = try run(RMSProp(momentum: 0.9, centered: true), steps: 6, resumeAfter: nil)
        XCTAssertEqual(try run(RMSProp(momentum: 0.9, centered: true), steps: 6, resumeAfter: 2), rms)
        let sgd = try run(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), steps: 6, resumeAfter: nil)
        XCTAssertEqual(try run(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), steps: 6, resumeAfter: 4), sgd)
        // Without restoring state the trajectory would differ (the check is not vacuous).
        XCTAssertNotEqual(try run(Adam(learningRate: 0.01, weightDecay: 0.1), steps: 3, resumeAfter: nil), adam)
    }

    func testRestoredStateForAnotherModelIsRejectedWithAClearError() throws {
        var small = TwoParameters(weight: Parameter(Tensor(shape: [2])), bias: Parameter(Tensor(shape: [1])))
        small.weight.gradient = Tensor(shape: [2], scalars: [1, 1])
        var adam = Adam()
        adam.step(&small)
        XCTAssertNoThrow(try adam.validateState(for: &small))
        var large = TwoParameters(weight: Parameter(Tensor(shape: [3])), bias: Parameter(Tensor(shape: [1])))
        XCTAssertThrowsError(try adam.validateState(for: &large)) { error in
            XCTAssertEqual(error as? OptimizerStateError, .sizeMismatch(name: "a.weight", parameterCount: 3, stateCount: 2))
        }
        var renamed = ParameterList(parameters: [Parameter(Tensor(shape: [2]))])
        XCTAssertThrowsError(try adam.validateState(for: &renamed)) { error in
            XCTAssertEqual(error as? OptimizerStateError, .unknownParameter(name: "a.weight"))
        }
    }

    func testOptimizersSkipFrozenParametersAndKeepNoStateForThem() {
        var m = TwoParameters(weight: Parameter(Tensor(shape: [2], scalars: [1, 2]), isTrainable: false),
                              bias: Parameter(Tensor(shape: [1], scalars: [3])))
        m.weight.gradient = Tensor(shape: [2], scalars: [1, 1])
        m.bias.gradient = Tensor(shape: [1], scalars: [1])
        var adam = Adam(learningRate: 0.1, weightDecay: 0.5, decoupledWeightDecay: true)
        adam.step(&m)
        XCTAssertEqual(m.weight.value.scalars, [1, 2])
        XCTAssertNotEqual(m.bias.value.scalars, [3])
        XCTAssertEqual(Array(adam.states.keys), ["b.bias"])
    }

    /// `--optimizer adamw` (`TrainerOptions.OptimizerKind.adamw`) is AdamW: with a zero gradient
    /// the weight only shrinks by `1 − ηλ`, where Adam's L2 term would move it by about η.
    func testTheAdamWOptionDecaysTheWeightsApartFromTheGradient() throws {
        func oneStep(_ kind: TrainerOptions.OptimizerKind) -> Float {
            var m = TwoParameters(weight: Parameter(Tensor(shape: [1], scalars: [1])), bias: Parameter(Tensor(shape: [1], scalars: [0])))
            var optimizer = TrainerOptions(learningRate: 0.1, optimizer: kind, weightDecay: 0.5).makeOptimizer()
            optimizer.step(&m)
            return m.weight.value.scalars[0]
        }
        XCTAssertEqual(oneStep(.adamw), Float(1 - 0.1 * 0.5), accuracy: 1e-7)
        XCTAssertEqual(oneStep(.adam), 0.9, accuracy: 1e-6)   // 1 − η · λθ / √((λθ)²)
        let adamw = try XCTUnwrap(TrainerOptions(optimizer: .adamw, weightDecay: 0.2).makeOptimizer() as? Adam)
        XCTAssertTrue(adamw.decoupledWeightDecay)
        XCTAssertEqual(adamw.weightDecay, 0.2)
        XCTAssertFalse(try XCTUnwrap(TrainerOptions(optimizer: .adam, weightDecay: 0.2).makeOptimizer() as? Adam).decoupledWeightDecay)
    }

    func testLearningRateSetterTakesEffect() {
        var m = TwoParameters(weight: Parameter(Tensor(shape: [1], scalars: [1])), bias: Parameter(Tensor(shape: [1], scalars: [1])))
        m.weight.gradient = Tensor(shape: [1], scalars: [2])
        var sgd: any Optimizer = SGD(learningRate: 1)
        sgd.learningRate = 0.25
        sgd.step(&m)
        XCTAssertEqual(m.weight.value.scalars, [0.5])
    }
}

/// A container over a plain list of parameters, named "0", "1", …
private struct ParameterList: ParameterContainer {
    var parameters: [Parameter]
    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        for i in parameters.indices { try visit(prefix + String(i), &parameters[i]) }
    }
}
