import Foundation

/// A bounded first-in-first-out channel between async code (the server's tasks) and a
/// plain thread (a worker that may block), in either direction, with backpressure: a sender
/// waits while `capacity` elements are queued, a receiver while none are.
///
/// The async side suspends (never blocks an event loop); the thread side blocks on a
/// condition. `finish(throwing:)` ends the stream (receivers see the error, or `nil` after
/// the last element); `cancel()` is the receiver telling senders to stop: their sends
/// return `false` from then on.
final class Pipe<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    // Guarded by `condition`:
    private var elements: [Element] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var waitingSenders: [CheckedContinuation<Void, Never>] = []
    private var waitingReceivers: [CheckedContinuation<Void, Never>] = []

    init(capacity: Int) {
        precondition(capacity > 0, "A pipe holds at least one element")
        self.capacity = capacity
    }

    // MARK: Sending

    /// Queues `element`, suspending while the pipe is full. Returns `false` (dropping the
    /// element) when the receiver has cancelled.
    func send(_ element: Element) async -> Bool {
        while true {
            if let sent = attemptSend(element) { return sent }
            await withCheckedContinuation { parkSender($0) }
        }
    }

    /// Queues `element` from a thread, blocking while the pipe is full; `false` when cancelled.
    func sendBlocking(_ element: Element) -> Bool {
        condition.lock()
        while !cancelled && elements.count >= capacity { condition.wait() }
        return appendAndUnlock(element)
    }

    /// Ends the stream; receivers get the queued elements, then `error` (or `nil` without one).
    func finish(throwing error: (any Error)? = nil) {
        condition.lock()
        if !finished {
            finished = true
            failure = error
        }
        let receivers = takeReceivers()
        condition.broadcast()
        condition.unlock()
        receivers.forEach { $0.resume() }
    }

    // MARK: Receiving

    /// The next element, suspending while the pipe is empty; `nil` at the end.
    /// - Throws: the error the stream was finished with, after the queued elements.
    func receive() async throws -> Element? {
        while true {
            switch attemptReceive() {
            case .element(let element): return element
            case .end(let error):
                if let error { throw error }
                return nil
            case .empty:
                await withCheckedContinuation { parkReceiver($0) }
            }
        }
    }

    /// The next element from a thread, blocking while the pipe is empty; `nil` at the end.
    func receiveBlocking() throws -> Element? {
        condition.lock()
        while elements.isEmpty && !finished { condition.wait() }
        if let element = takeFirst() {
            condition.unlock()
            return element
        }
        let error = failure
        condition.unlock()
        if let error { throw error }
        return nil
    }

    /// The receiver stops: queued elements are dropped and every send returns `false`.
    func cancel() {
        condition.lock()
        cancelled = true
        elements.removeAll()
        let senders = waitingSenders
        waitingSenders.removeAll()
        condition.broadcast()
        condition.unlock()
        senders.forEach { $0.resume() }
    }

    // MARK: The locked steps of the async methods (locks are taken in synchronous code only)

    /// `true` when queued, `false` when cancelled, `nil` when full.
    private func attemptSend(_ element: Element) -> Bool? {
        condition.lock()
        guard cancelled || elements.count < capacity else {
            condition.unlock()
            return nil
        }
        return appendAndUnlock(element)
    }

    /// With the lock held and room in the pipe (or cancelled): queues `element` unless the pipe
    /// was cancelled, releases the lock, wakes the receivers; `false` when cancelled.
    private func appendAndUnlock(_ element: Element) -> Bool {
        if cancelled {
            condition.unlock()
            return false
        }
        elements.append(element)
        let receivers = takeReceivers()
        condition.broadcast()
        condition.unlock()
        receivers.forEach { $0.resume() }
        return true
    }

    private func parkSender(_ continuation: CheckedContinuation<Void, Never>) {
        condition.lock()
        if cancelled || elements.count < capacity {
            condition.unlock()
            continuation.resume()
        } else {
            waitingSenders.append(continuation)
            condition.unlock()
        }
    }

    private enum ReceiveAttempt { case element(Element), end((any Error)?), empty }

    private func attemptReceive() -> ReceiveAttempt {
        condition.lock()
        defer { condition.unlock() }
        if let element = takeFirst() { return .element(element) }
        return finished ? .end(failure) : .empty
    }

    private func parkReceiver(_ continuation: CheckedContinuation<Void, Never>) {
        condition.lock()
        if !elements.isEmpty || finished {
            condition.unlock()
            continuation.resume()
        } else {
            waitingReceivers.append(continuation)
            condition.unlock()
        }
    }

    /// Removes the oldest element and wakes the senders waiting for room (call with the lock held).
    private func takeFirst() -> Element? {
        guard !elements.isEmpty else { return nil }
        let element = elements.removeFirst()
        let senders = waitingSenders
        waitingSenders.removeAll()
        condition.broadcast()
        // Resuming a continuation under the lock is safe: it only schedules the task.
        senders.forEach { $0.resume() }
        return element
    }

    private func takeReceivers() -> [CheckedContinuation<Void, Never>] {
        let receivers = waitingReceivers
        waitingReceivers.removeAll()
        return receivers
    }
}
