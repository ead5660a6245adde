import Foundation

/// The learning curves of a run as a self-contained SVG (`curves.svg` beside the model):
/// training loss per epoch on the left axis, the development metric on the right axis,
/// the best epoch ringed. No scripts, fonts or external files: any browser or image
/// viewer shows it, and `rsvg-convert curves.svg -o curves.png` turns it into a PNG.
///
/// Points carry classes (`train-point`, `dev-point`) so tools and tests can find them;
/// an epoch cut short by the time limit is drawn hollow.
public struct LossCurveChart: Sendable {
    /// File name inside the model directory.
    public static let fileName = "curves.svg"

    public var records: [EpochRecord]
    public var width = 760.0
    public var height = 440.0

    public init(records: [EpochRecord]) {
        self.records = records
    }

    private static let trainColour = "#1f77b4"
    private static let devColour = "#d95f02"

    /// The chart as SVG text.
    public func svg() -> String {
        let left = 78.0, right = 82.0, top = 70.0, bottom = 58.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let lastEpoch = max(records.map(\.epoch).max() ?? 1, 1)
        let metricName = records.last?.metricName ?? "metric"

        let trainAxis = Axis(values: records.map(\.trainLoss))
        let devAxis = Axis(values: records.map(\.devMetric))
        func x(_ epoch: Int) -> Double {
            lastEpoch == 1 ? left + plotWidth / 2 : left + plotWidth * Double(epoch - 1) / Double(lastEpoch - 1)
        }
        func y(_ value: Double, _ axis: Axis) -> Double { top + plotHeight * (1 - axis.fraction(value)) }

        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">
        <title>Training loss and dev \(escape(metricName)) per epoch</title>
        <rect x="0" y="0" width="\(f(width))" height="\(f(height))" fill="#ffffff"/>
        <text x="\(f(width / 2))" y="26" text-anchor="middle" font-size="16" font-weight="bold">Training loss and dev \(escape(metricName))</text>

        """
        // Grid and axes: horizontal lines at the training-loss ticks, vertical at epoch ticks.
        for tick in trainAxis.ticks {
            let ty = y(tick, trainAxis)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(ty))\" stroke=\"#e6e6e6\"/>\n"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(ty + 4))\" text-anchor=\"end\" fill=\"\(Self.trainColour)\">\(trainAxis.label(tick))</text>\n"
        }
        for tick in devAxis.ticks {
            let ty = y(tick, devAxis)
            svg += "<line x1=\"\(f(left + plotWidth))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotWidth + 5))\" y2=\"\(f(ty))\" stroke=\"\(Self.devColour)\"/>\n"
            svg += "<text x=\"\(f(left + plotWidth + 9))\" y=\"\(f(ty + 4))\" fill=\"\(Self.devColour)\">\(devAxis.label(tick))</text>\n"
        }
        for epoch in epochTicks(lastEpoch) {
            let tx = x(epoch)
            svg += "<line x1=\"\(f(tx))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(tx))\" y2=\"\(f(top + plotHeight + 5))\" stroke=\"#444\"/>\n"
            svg += "<text x=\"\(f(tx))\" y=\"\(f(top + plotHeight + 20))\" text-anchor=\"middle\">\(epoch)</text>\n"
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">epoch</text>\n"
        svg += "<text transform=\"translate(20 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"\(Self.trainColour)\">training loss</text>\n"
        svg += "<text transform=\"translate(\(f(width - 16)) \(f(top + plotHeight / 2))) rotate(90)\" text-anchor=\"middle\" fill=\"\(Self.devColour)\">dev \(escape(metricName))</text>\n"

        // Curves.
        func series(_ values: [(Int, Double, Bool)], axis: Axis, colour: String, name: String) -> String {
            var out = ""
            let finite = values.filter { $0.1.isFinite }
            if finite.count > 1 {
                let points = finite.map { "\(f(x($0.0))),\(f(y($0.1, axis)))" }.joined(separator: " ")
                out += "<polyline class=\"\(name)-line\" points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            }
            for (epoch, value, complete) in finite {
                out += "<circle class=\"\(name)-point\" cx=\"\(f(x(epoch)))\" cy=\"\(f(y(value, axis)))\" r=\"3.5\" "
                    + "fill=\"\(complete ? colour : "#ffffff")\" stroke=\"\(colour)\" stroke-width=\"1.5\">"
                    + "<title>epoch \(epoch): \(name == "train" ? "training loss" : "dev " + escape(metricName)) \(String(format: "%.4f", value))</title></circle>\n"
            }
            return out
        }
        svg += series(records.map { ($0.epoch, $0.trainLoss, $0.complete) }, axis: trainAxis, colour: Self.trainColour, name: "train")
        svg += series(records.map { ($0.epoch, $0.devMetric, $0.complete) }, axis: devAxis, colour: Self.devColour, name: "dev")
        if let best = bestRecord(), best.devMetric.isFinite {
            svg += "<circle class=\"best\" cx=\"\(f(x(best.epoch)))\" cy=\"\(f(y(best.devMetric, devAxis)))\" r=\"8\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\n"
        }

        // Legend: one row between the title and the plot, so it never hides a point.
        let legendY = 52.0
        var legendX = left
        svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(legendY - 4))\" x2=\"\(f(legendX + 22))\" y2=\"\(f(legendY - 4))\" stroke=\"\(Self.trainColour)\" stroke-width=\"2\"/>\n"
        svg += "<text x=\"\(f(legendX + 28))\" y=\"\(f(legendY))\">training loss (left axis)</text>\n"
        legendX += 215
        svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(legendY - 4))\" x2=\"\(f(legendX + 22))\" y2=\"\(f(legendY - 4))\" stroke=\"\(Self.devColour)\" stroke-width=\"2\"/>\n"
        svg += "<text x=\"\(f(legendX + 28))\" y=\"\(f(legendY))\">dev \(escape(metricName)) (right axis)</text>\n"
        legendX += 215
        if let best = bestRecord() {
            svg += "<circle cx=\"\(f(legendX + 8))\" cy=\"\(f(legendY - 4))\" r=\"6\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(f(legendX + 20))\" y=\"\(f(legendY))\">best: epoch \(best.epoch), \(String(format: "%.4f", best.devMetric))</text>\n"
        }
        if records.contains(where: { !$0.complete }) {
            svg += "<text x=\"\(f(left))\" y=\"\(f(height - 14))\" font-size=\"11\" fill=\"#666666\">hollow point: epoch cut short by the time limit</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// The record of the saved checkpoint: the last one marked best.
    private func bestRecord() -> EpochRecord? { records.last { $0.isBest } }

    private func epochTicks(_ last: Int) -> [Int] {
        let step = max(1, Axis.niceStep(Double(last - 1) / 8).rounded().toInt)
        var ticks = Array(stride(from: 1, through: last, by: step))
        if ticks.last != last && last - (ticks.last ?? 0) >= step / 2 { ticks.append(last) }
        return ticks
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A value axis with "nice" round ticks covering the finite values.
private struct Axis {
    var low: Double
    var high: Double
    var step: Double

    init(values: [Double]) {
        let finite = values.filter(\.isFinite)
        var low = finite.min() ?? 0, high = finite.max() ?? 1
        if high - low < 1e-12 {
            let pad = max(abs(low) * 0.05, 1e-3)
            low -= pad
            high += pad
        }
        let step = Axis.niceStep((high - low) / 5)
        self.low = (low / step).rounded(.down) * step
        self.high = (high / step).rounded(.up) * step
        self.step = step
    }

    /// 1, 2 or 5 times a power of ten, close to `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0, rough.isFinite else { return 1 }
        let power = pow(10, (log10(rough)).rounded(.down))
        let scaled = rough / power
        return (scaled < 1.5 ? 1 : scaled < 3 ? 2 : scaled < 7 ? 5 : 10) * power
    }

    var ticks: [Double] {
        var result: [Double] = []
        var value = low
        while value <= high + step * 1e-6 {
            result.append(value)
            value += step
        }
        return result
    }

    func fraction(_ value: Double) -> Double { high > low ? (value - low) / (high - low) : 0.5 }

    func label(_ value: Double) -> String {
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(min(decimals, 6))f", abs(value) < step * 1e-6 ? 0 : value)
    }
}

private extension Double {
    var toInt: Int { Int(self) }
}
