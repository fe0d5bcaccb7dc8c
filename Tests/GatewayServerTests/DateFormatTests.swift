import Testing

@testable import GatewayServer

@Test("IMF-fixdate formatting (RFC 9110 §5.6.7 example and leap days)")
func imfFixdate() {
    #expect(DateHeader.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    #expect(DateHeader.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
    #expect(DateHeader.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
    #expect(DateHeader.format(1_798_761_599) == "Thu, 31 Dec 2026 23:59:59 GMT")
}
