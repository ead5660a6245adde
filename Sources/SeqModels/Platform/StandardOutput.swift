import CKernels
import Foundation

/// The process's standard output as `print` writes it: C's buffered `stdout`.
///
/// `print` drops a failed write without a word, so a program whose output went to a full disk
/// would end as if all was well. A program calls `flush()` before it ends (the `seqmodels` tool
/// does after every command) to learn whether everything it printed was written.
public enum StandardOutput {
    /// Writes out what `print` buffered; returns `nil` when everything printed so far reached
    /// the file, else why not (`"No space left on device"`).
    public static func flush() -> String? {
        let code = sm_flush_standard_output()
        return code == 0 ? nil : String(cString: strerror(code))
    }
}
