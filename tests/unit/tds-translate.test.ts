/** The TDS test server's T-SQL → SQLite translation (src/emulators/tds/translate.ts). */
import { declaredParams, splitStatements, translate } from '../../src/emulators/tds/translate';

test('statements split at ; and GO outside quotes, brackets and comments', () => {
  expect(splitStatements("SELECT 'a;b' AS x; SELECT [c;d] FROM t -- ; no\nGO\nSELECT /* ; */ 2")).toEqual(["SELECT 'a;b' AS x", 'SELECT [c;d] FROM t \n', 'SELECT   2'].map((s) => s.trim()));
  expect(splitStatements('SET NOCOUNT ON;\n\n')).toEqual(['SET NOCOUNT ON']);
});

test('TOP, brackets, prefixes, N literals, parameters, OFFSET/FETCH and session statements', () => {
  expect(translate('SELECT TOP (@limit) [serialNo], [Person Name] FROM [thirdparty].[dbo].[attlog] WHERE [serialNo] > @after ORDER BY [serialNo]')).toEqual({
    kind: 'query',
    sql: 'SELECT "serialNo", "Person Name" FROM "attlog" WHERE "serialNo" > $after ORDER BY "serialNo" LIMIT $limit',
    params: ['after', 'limit'],
  });
  expect(translate('select top 5 * from dbo.attlog with (nolock)')).toMatchObject({ sql: 'SELECT * from attlog  LIMIT 5' });
  expect(translate("SELECT * FROM attlog WHERE personName = N'Иван' AND note = '@notaparam'")).toMatchObject({
    sql: "SELECT * FROM attlog WHERE personName = 'Иван' AND note = '@notaparam'",
    params: [],
  });
  expect(translate('SELECT a FROM t ORDER BY a OFFSET @o ROWS FETCH NEXT @n ROWS ONLY')).toMatchObject({ sql: 'SELECT a FROM t ORDER BY a LIMIT $n OFFSET $o', params: ['n', 'o'] });
  expect(translate('SELECT ISNULL(a, 1), LEN(b) FROM t')).toMatchObject({ sql: 'SELECT IFNULL(a, 1), LENGTH(b) FROM t' });
  expect(translate('SELECT @@VERSION')).toMatchObject({ kind: 'query', params: [] });
  expect(translate('SET TEXTSIZE 2147483647')).toEqual({ kind: 'noop' });
  expect(translate('USE [thirdparty]')).toEqual({ kind: 'noop', use: 'thirdparty' });
  expect(translate('IF @@TRANCOUNT > 0 COMMIT TRAN')).toEqual({ kind: 'noop' });
});

test("sp_executesql's @params declaration", () => {
  expect(declaredParams('@limit int,@after bigint,@name nvarchar(max),@since datetime2(3)')).toEqual([
    { name: 'limit', type: 'int' },
    { name: 'after', type: 'bigint' },
    { name: 'name', type: 'nvarchar(max)' },
    { name: 'since', type: 'datetime2(3)' },
  ]);
});
