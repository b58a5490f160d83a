/* openapi_blob.S - embeds openapi.json (from the repository root) in the binary. */
	.section .rodata
	.global openapi_json
	.type openapi_json, @object
openapi_json:
	.incbin "openapi.json"
	.global openapi_json_end
	.type openapi_json_end, @object
openapi_json_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
