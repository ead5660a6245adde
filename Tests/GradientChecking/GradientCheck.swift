import XCTest
import SeqModels

/// The outcome of comparing an analytic gradient with central finite differences.
public struct GradientCheckReport: CustomStringConvertible {
    /// Largest `|analytic − numeric| / max(|analytic| + |numeric|, floor)` over the elements.
    public var worstRelativeError: Double
    /// Flat offset and multi-index of the element with that error.
    public var worstOffset: Int
    public var worstIndex: [Int]
    public var analyticAtWorst: Double
    public var numericAtWorst: Double
    /// Number of elements compared.
    public var checkedCount: Int
    /// Number of elements left out because a probe crossed a kink of the loss (`isSmooth`).
    public var skippedCount = 0

    public var description: String {
        "worst relative error \(worstRelativeError) at \(worstIndex) (flat \(worstOffset)): analytic \(analyticAtWorst), numeric \(numericAtWorst), over \(checkedCount) elements"
            + (skippedCount > 0 ? " (\(skippedCount) skipped at kinks)" : "")
    }
}

/// Multi-index of a flat row-major offset.
public func multiIndex(_ offset: Int, shape: [Int]) -> [Int] {
    var rest = offset
    var index = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        index[d] = rest % shape[d]
        rest /= shape[d]
    }
    return index
}

/// Which central-difference formula `checkGradient` uses.
public enum DifferenceStencil {
    /// `(f(x+h) − f(x−h)) / 2h`: error O(h²).
    case threePoint
    /// `(8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h`: error O(h⁴), so a large `h`
    /// (which keeps Float32 rounding noise small) still gives an accurate derivative.
    case fivePoint
}

/// Compares `analytic` (the claimed gradient of `loss` at `x`) with central differences,
/// element by element (five-point stencil by default).
///
/// `loss` should accumulate in `Double` (see `projectedSum`). With Float32 forward passes
/// rounding noise grows like 1/h, so prefer a largish `h` (the default 1/128, a power of
/// two so that `x ± h` is exact for moderate `x`) with the five-point stencil. Pass `elements` to check a subset of a large
/// tensor. The relative error uses `floor` in the denominator so that gradients that are
/// (correctly) near zero do not blow it up. Fails the calling test, naming the worst
/// element, when the worst error exceeds `tolerance`; returns the report either way.
///
/// `isSmooth(probe)` may say that a probe point lies across a kink of the loss (a max-pooling
/// winner changed): finite differences mean nothing there, so such elements are left out and
/// counted in `skippedCount` (callers should check that few are).
@discardableResult
public func checkGradient(of loss: (Tensor) -> Double, analytic: Tensor, at x: Tensor,
                   step h: Float = 1.0 / 128, stencil: DifferenceStencil = .fivePoint, tolerance: Double = 1e-2, floor: Double = 1e-3,
                   elements: [Int]? = nil, isSmooth: ((Tensor) -> Bool)? = nil, _ label: String = "",
                   file: StaticString = #filePath, line: UInt = #line) -> GradientCheckReport {
    precondition(analytic.shape == x.shape, "analytic gradient \(analytic.shape) must have the shape of x \(x.shape)")
    var report = GradientCheckReport(worstRelativeError: 0, worstOffset: 0, worstIndex: multiIndex(0, shape: x.shape),
                                     analyticAtWorst: 0, numericAtWorst: 0, checkedCount: 0)
    var probe = x
    var crossedKink = false
    func evaluate(_ value: Float, _ i: Int) -> Double {
        probe[flat: i] = value
        if let isSmooth, !isSmooth(probe) { crossedKink = true }
        return loss(probe)
    }
    for i in elements ?? Array(0..<x.count) {
        let original = x[flat: i]
        crossedKink = false
        let numeric: Double
        switch stencil {
        case .threePoint:
            // The step actually taken in Float32, not the nominal h.
            let width = Double(original + h) - Double(original - h)
            numeric = (evaluate(original + h, i) - evaluate(original - h, i)) / width
        case .fivePoint:
            // Steps of ±h, ±2h, rounded to Float32 and used as rounded (h a power of two keeps them exact).
            let p1 = original + h, m1 = original - h, p2 = original + 2 * h, m2 = original - 2 * h
            let width = (Double(p1) - Double(m1)) * 6
            numeric = (8 * (evaluate(p1, i) - evaluate(m1, i)) - (evaluate(p2, i) - evaluate(m2, i))) / width
        }
        probe[flat: i] = original
        if crossedKink {
            report.skippedCount += 1
            continue
        }
        let a = Double(analytic[flat: i])
        let error = abs(a - numeric) / max(abs(a) + abs(numeric), floor)
        report.checkedCount += 1
        if error > report.worstRelativeError || report.checkedCount == 1 {
            report.worstRelativeError = error
            report.worstOffset = i
            report.worstIndex = multiIndex(i, shape: x.shape)
            report.analyticAtWorst = a
            report.numericAtWorst = numeric
        }
    }
    XCTAssertLessThanOrEqual(report.worstRelativeError, tolerance, "\(label) gradient check: \(report)", file: file, line: line)
    return report
}

/// A fixed random tensor `R` for turning a tensor-valued output into the scalar
/// `Σ output ⊙ R`, whose gradient with respect to the output is `R` itself.
public func randomProjection(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: -1, high: 1, using: &g)
}

/// `Σ output ⊙ projection`, accumulated in `Double`.
public func projectedSum(_ output: Tensor, _ projection: Tensor) -> Double {
    precondition(output.shape == projection.shape, "projection \(projection.shape) must match output \(output.shape)")
    var s = 0.0
    output.withUnsafeBufferPointer { o in
        projection.withUnsafeBufferPointer { r in
            for i in 0..<o.count { s += Double(o[i]) * Double(r[i]) }
        }
    }
    return s
}
